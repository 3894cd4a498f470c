"""The README's install steps, the chart's notes and the user guide's command blocks,
run as written on a local control plane of their own.

The blocks are read from the pages themselves (tests/doc_blocks.py), not copied: a
command that no longer works fails here. The pages that install the chart (README.md,
quick-start.md, operations.md) and the notes `helm install` prints each start from a
fresh cluster: no CRDs, no release, no namespace but the system ones. The reference
pages share one installed state, set up as the README does it, with the sample plan
applied as plan `payments`. A block that cannot run here carries a
`<!-- doc-test: skip (reason) -->` marker in the page.

The doc cluster is separate from the other tests' (`.cluster-docs`, a kwok control
plane like `hack/cluster.sh up` makes), because the pages delete CRDs, install a
release named `agent-orchestrator` and list every namespace. Only the documented
placeholders are filled in; PLACEHOLDERS lists them. A doc cluster that was up before
(`AO_CLUSTER_DIR=$PWD/.cluster-docs hack/cluster.sh up`) is left up, for quicker reruns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doc_blocks import FRESH_PAGES, REFERENCE_PAGES, REPO, Block, blocks

pytestmark = pytest.mark.e2e

CLUSTER_DIR = REPO / ".cluster-docs"
CLUSTER_NAME = os.environ.get("AO_CLUSTER_NAME", "agent-orchestrator") + "-docs"
SAMPLE_PLAN = REPO / "examples" / "plans" / "sample-plan.md"
NOTES = REPO / "charts" / "agent-orchestrator" / "templates" / "NOTES.txt"
API_KEY = "sk-doc-test"
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

# The placeholders the pages and the notes name, and what the doc-tests put in their place
# (whole words only; everything else runs exactly as written).
PLACEHOLDERS: dict[str, str] = {
    "sk-...": API_KEY,  # an Anthropic API key
    "<your Anthropic API key>": API_KEY,
    "<chart>": "charts/agent-orchestrator",  # the chart, as the notes name it
    "<namespace>": "my-team",  # a namespace with tasks
    "NAME": "payments-t002-006",  # a task (the troubleshooting page)
    "PLAN": "payments",  # a plan (PLAN.md, the plan's file, is a file of its own)
}
# The files the pages take as given, unless the page shows them (a `file` marker):
# a user's plan and the sync sidecar's example path hold the sample plan.
GIVEN_FILES = {"PLAN.md": SAMPLE_PLAN, "plans/payments.md": SAMPLE_PLAN}
# Copied into the working folder (the commands run from the repository's root, as the
# pages say, but must not write into it); the rest is linked.
COPIED = ("charts", "crds", "manifests", "examples")
LINKED = (".venv", "hack")
# Lines of the chart's notes not run, and why.
NOTES_SKIPPED = {"port-forward": "a port-forward needs a pod that serves: kwok's pods run nothing"}

# The state every reference page starts from: the chart installed the way the README and
# the quick start do, watching the team namespaces (profiles there too), the sample plan as `payments` in
# my-team and team-a, a git token in both and an (unlabelled) API key Secret in team-a.
REFERENCE_STATE = f"""
kubectl create namespace my-team
kubectl create namespace team-a
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established --timeout=60s -f crds/
helm install agent-orchestrator charts/agent-orchestrator -n agent-orchestrator \
  --create-namespace --take-ownership --wait --timeout 180s \
  --set 'operator.namespaces={{my-team,team-a}}'
for ns in my-team team-a; do
  agent-sync render PLAN.md --plan payments --namespace "$ns" | kubectl apply -f -
  kubectl -n "$ns" create secret generic git-token --from-literal=token=doc-test
done
kubectl -n team-a create secret generic anthropic-api-key --from-literal=ANTHROPIC_API_KEY={API_KEY}
"""

# What each install page must have achieved, beyond every command exiting as shown.
WATCHES_MY_TEAM = (
    "kubectl -n agent-orchestrator get deploy agent-orchestrator -o jsonpath="
    "'{.spec.template.spec.containers[0].env[?(@.name==\"AGENT_OPERATOR_NAMESPACES\")].value}'"
    " | tr , '\\n' | grep -qx my-team"
)
KEY_LABELLED = (
    "kubectl -n my-team get secret anthropic-api-key -o jsonpath="
    "'{.metadata.labels.orchestration\\.coditect\\.ai/agent-credential}' | grep -qx true"
)
OUTCOMES = {
    "README.md": [
        WATCHES_MY_TEAM,
        KEY_LABELLED,
        "kubectl -n my-team get agentprofile general-purpose devops-engineer",
        "kubectl -n my-team get agentplan my-plan",
        "test \"$(kubectl -n my-team get agenttasks -o name | wc -l)\" -gt 20",
    ],
    "docs/quick-start.md": [
        WATCHES_MY_TEAM,
        KEY_LABELLED,
        "kubectl -n my-team get agentprofile general-purpose",
        "test \"$(kubectl -n my-team get agenttasks -o name | wc -l)\" -eq 3",
    ],
    "docs/operations.md": [
        # after the complete removal and the `kubectl apply -k` install that follows it
        "kubectl -n agent-orchestrator get deploy agent-orchestrator",
        "kubectl -n agent-orchestrator get agentprofile general-purpose",
    ],
}

def _stub_crd(kind: str, plural: str) -> str:
    """A schemaless CRD of the Prometheus operator's group, so the chart's objects apply."""
    return f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {plural}.monitoring.coreos.com}}
spec:
  group: monitoring.coreos.com
  names: {{kind: {kind}, plural: {plural}, singular: {kind.lower()}, listKind: {kind}List}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
"""


PROMETHEUS_CRDS = "---".join(
    _stub_crd(kind, plural)
    for kind, plural in (("ServiceMonitor", "servicemonitors"), ("PrometheusRule", "prometheusrules"))
)


def fill(text: str) -> str:
    """The text with its documented placeholders filled in."""
    for placeholder, value in PLACEHOLDERS.items():
        if placeholder.isalpha():
            text = re.sub(rf"(?<![\w.-]){placeholder}(?![\w.])", value, text)
        else:
            text = text.replace(placeholder, value)
    return text


class Shell:
    """bash in a working folder laid out like the repository, on the doc cluster."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        bin_dirs = [str(CLUSTER_DIR / "bin"), str(REPO / ".venv" / "bin")]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "HELM_"))},
            "PATH": os.pathsep.join([*bin_dirs, os.environ.get("PATH", "")]),
            "KUBECONFIG": str(CLUSTER_DIR / "kubeconfig"),
            "HELM_CACHE_HOME": str(workdir / ".helm" / "cache"),
            "HELM_CONFIG_HOME": str(workdir / ".helm" / "config"),
            "HELM_DATA_HOME": str(workdir / ".helm" / "data"),
            "ANTHROPIC_API_KEY": API_KEY,
        }

    def run(self, script: str, where: str, expect: int = 0, timeout: float = 300) -> str:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=self.workdir, env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )
        print(f"--- {where}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-1000:]}")
        if done.returncode != expect:
            pytest.fail(
                f"{where}: exit code {done.returncode}, expected {expect}\n--- commands\n{script}"
                f"\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}",
                pytrace=False,
            )
        return done.stdout

    def reset(self) -> None:
        """Back to a fresh cluster: no release, no CRDs, only the system namespaces."""
        releases = json.loads(self.run("helm list -A -o json", "reset"))
        for release in releases:
            self.run(f"helm uninstall {release['name']} -n {release['namespace']} --wait", "reset")
        self.run(
            "kubectl delete crd agenttasks.orchestration.coditect.ai "
            "agentplans.orchestration.coditect.ai agentprofiles.orchestration.coditect.ai "
            "--ignore-not-found --wait\n"
            "kubectl delete clusterroles,clusterrolebindings,validatingadmissionpolicies,"
            "validatingadmissionpolicybindings -l app.kubernetes.io/part-of=agent-orchestrator "
            "--ignore-not-found --wait",
            "reset",
        )
        names = self.run("kubectl get namespaces -o name", "reset").split()
        extra = [n for n in names if n.removeprefix("namespace/") not in SYSTEM_NAMESPACES]
        if extra:
            self.run(f"kubectl delete {' '.join(extra)} --wait --timeout=180s", "reset", timeout=240)


def workdir_for(tmp: Path, page_blocks: list[Block]) -> Path:
    """A folder with the repository's files the pages use, the given files and the page's
    own `file` blocks, and .cluster leading to the doc cluster."""
    for name in COPIED:
        shutil.copytree(REPO / name, tmp / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in LINKED:
        (tmp / name).symlink_to(REPO / name)
    (tmp / ".cluster").symlink_to(CLUSTER_DIR)
    for name, source in GIVEN_FILES.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp / name)
    for block in page_blocks:
        if block.file:
            (tmp / block.file).parent.mkdir(parents=True, exist_ok=True)
            (tmp / block.file).write_text(block.text, encoding="utf-8")
    return tmp


def run_page(shell: Shell, page: str) -> list[str]:
    """Runs a page's shell blocks: document order, the `last` ones at the end. Returns
    where each run block is, for the report."""
    page_blocks = [b for b in blocks(REPO / page) if b.runs]
    ordered = [b for b in page_blocks if not b.last] + [b for b in page_blocks if b.last]
    for block in ordered:
        shell.run(fill(block.script()), block.where, expect=block.exit_code)
    return [b.where for b in ordered]


@pytest.fixture(scope="module")
def doc_cluster(tools: Path) -> Iterator[Path]:
    """A kwok control plane for the doc-tests alone; stopped afterwards if started here."""
    env = {**os.environ, "AO_CLUSTER_DIR": str(CLUSTER_DIR), "AO_CLUSTER_NAME": CLUSTER_NAME}
    script = REPO / "hack" / "cluster.sh"
    was_up = subprocess.run([str(script), "status"], env=env, capture_output=True).returncode == 0
    if subprocess.run([str(script), "up"], env=env, timeout=3600).returncode != 0:
        # kwokctl picks free ports before it starts the components: a control plane starting
        # at the same moment can take one first. Once more from a clean state.
        subprocess.run([str(script), "down"], env=env, timeout=300)
        subprocess.run([str(script), "up"], env=env, check=True, timeout=3600)
    # The values file of operations.md turns the ServiceMonitor and PrometheusRule on:
    # their kinds come with the Prometheus Operator, stood in for by schemaless CRDs.
    subprocess.run([str(CLUSTER_DIR / "bin" / "kubectl"), f"--kubeconfig={CLUSTER_DIR / 'kubeconfig'}",
                    "apply", "-f", "-"], input=PROMETHEUS_CRDS, text=True, check=True,
                   capture_output=True, timeout=120)
    yield CLUSTER_DIR
    if not was_up:
        subprocess.run([str(script), "down"], env=env, check=False, timeout=300)


@pytest.fixture
def shell(doc_cluster: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Shell:
    callspec = getattr(request.node, "callspec", None)
    page = str(callspec.params.get("page", "")) if callspec else ""
    page_blocks = blocks(REPO / page) if page.endswith(".md") else []
    return Shell(workdir_for(tmp_path, page_blocks))


@pytest.mark.parametrize("page", FRESH_PAGES)
def test_install_page_runs_as_written(page: str, shell: Shell) -> None:
    shell.reset()
    run_page(shell, page)
    shell.run("\n".join(OUTCOMES[page]), f"{page}: outcome")


def notes_commands(notes: str) -> list[str]:
    """The commands in the notes helm printed: the indented lines that start with a
    program, with their continuation lines; NOTES_SKIPPED's left out."""
    commands: list[str] = []
    lines = iter(notes.splitlines())
    for line in lines:
        if not re.match(r"^\s+(kubectl|helm|agent-sync|agentctl)\s", line):
            continue
        command = line.strip()
        while command.endswith("\\"):
            command = command[:-1].rstrip() + " " + next(lines).strip()
        if not any(word in command for word in NOTES_SKIPPED):
            commands.append(command)
    return commands


def test_chart_notes_run_as_written(shell: Shell) -> None:
    """What `helm install` prints on a fresh cluster, then on one with the CRDs, run; the
    release installed as the README installs it, <namespace> being the team namespace."""
    shell.reset()
    shell.run("kubectl create namespace my-team", "NOTES.txt: the namespace <namespace> names")
    installed = shell.run(
        "helm install agent-orchestrator charts/agent-orchestrator -n agent-orchestrator "
        "--create-namespace --set 'operator.namespaces={my-team}'", "NOTES.txt: helm install")
    notes = installed.partition("NOTES:")[2]
    commands = notes_commands(notes)
    assert "NOTE: the CRDs were installed by this release" in notes
    assert "In each namespace with tasks (one the operator watches: agent-orchestrator,my-team)" in notes
    assert any(c.startswith("helm upgrade") for c in commands), notes
    for command in commands:
        shell.run(fill(command), f"{NOTES.relative_to(REPO)} (first install): {command}")
    shell.run(KEY_LABELLED, "NOTES.txt: the API key Secret is an agent credential")
    # The notes' objects went where the notes said, not to the kubeconfig's namespace.
    assert shell.run("kubectl -n default get agentplans,agenttasks -o name", "NOTES.txt") == ""
    shell.run("kubectl -n my-team get agentplan my-plan v2-platform", "NOTES.txt: the plans")
    upgraded = shell.run(
        "helm upgrade agent-orchestrator charts/agent-orchestrator -n agent-orchestrator "
        "--reuse-values", "NOTES.txt: helm upgrade")
    again = upgraded.partition("NOTES:")[2]
    assert "NOTE: the CRDs" not in again
    for command in notes_commands(again):
        if " secret " in command:
            continue  # made and labelled by the first round
        shell.run(fill(command), f"{NOTES.relative_to(REPO)} (upgrade): {command}")


@pytest.fixture(scope="module")
def reference_state(doc_cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    shell = Shell(workdir_for(tmp_path_factory.mktemp("reference"), []))
    shell.reset()
    shell.run(REFERENCE_STATE, "the reference pages' state", timeout=400)


@pytest.mark.parametrize("page", REFERENCE_PAGES)
def test_reference_page_runs_as_written(page: str, reference_state: None, shell: Shell) -> None:
    run_page(shell, page)
