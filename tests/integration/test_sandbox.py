"""What agents may be given, on the real control plane: opted-in Secrets bound to hosts,
allowlisted URLs, profiles within the operator's limits, the egress NetworkPolicy the
operator keeps, and the chart's ValidatingAdmissionPolicy that lets a person reference
only Secrets they may read (checked as an impersonated user with narrow RBAC)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from . import test_operator as base
from .conftest import REPO, kubectl
from .test_operator import (
    CREDENTIAL,
    GROUP,
    Operator,
    apply,
    condition,
    jobs_by_name,
    profile,
    task,
    tasks_by_id,
    wait_for,
)

# The fixtures of the operator's integration tests, shared.
stages = base.stages
ns = base.ns
operators = base.operators

pytestmark = pytest.mark.integration

HOSTS = f"{GROUP}/allowed-hosts"
POLICY = "agent-orchestrator-agent-egress"
DEFAULTS: dict[str, str] = {}  # the operator's own limits, nothing widened


def reason(ns: str, task_id: str) -> str | None:
    return condition(tasks_by_id(ns).get(task_id, {}), "Ready").get("reason")


def message(ns: str, task_id: str) -> str:
    return str(condition(tasks_by_id(ns)[task_id], "Ready").get("message", ""))


def test_unlabelled_secrets_and_urls_off_the_allowlist_get_no_job(
    ns: str, operators: Callable[..., Operator]
) -> None:
    kubectl("-n", ns, "create", "secret", "generic", "git", "--from-literal=token=ghp_x")
    repo = "https://github.com/acme/app.git"
    apply(
        task(ns, "creds", "T1", repository={"url": repo, "credentialsSecret": {"name": "git"}}),
        task(ns, "nosuch", "T2", repository={"url": repo, "credentialsSecret": {"name": "gone"}}),
        task(ns, "offlist", "T3", repository={"url": "https://evil.example/app.git"}),
    )
    operators(ns, env=DEFAULTS)
    wait_for(
        "the three blocked",
        lambda: [reason(ns, t) for t in ("T1", "T2", "T3")]
        == ["CredentialNotAllowed", "CredentialNotAllowed", "URLNotAllowed"],
    )
    unlabelled, absent = message(ns, "T1"), message(ns, "T2")
    assert "Secret 'git'" in unlabelled and CREDENTIAL in unlabelled and HOSTS in unlabelled
    assert absent == unlabelled.replace("'git'", "'gone'").replace(
        "secret git ", "secret gone "
    )  # the same words whether the Secret exists or not
    assert "https://evil.example/app.git" in message(ns, "T3")
    assert jobs_by_name(ns) == {}

    kubectl("-n", ns, "label", "secret", "git", f"{CREDENTIAL}=true")
    wait_for("T1 wants a host", lambda: "names no host" in message(ns, "T1"), timeout=30)
    kubectl("-n", ns, "annotate", "secret", "git", f"{HOSTS}=gitlab.com")
    wait_for("T1 bound elsewhere", lambda: "may be sent only to" in message(ns, "T1"), timeout=30)
    assert jobs_by_name(ns) == {}
    kubectl("-n", ns, "annotate", "--overwrite", "secret", "git", f"{HOSTS}=gitlab.com,github.com")
    wait_for("T1's Job", lambda: "creds-1" in jobs_by_name(ns), timeout=30)
    assert set(jobs_by_name(ns)) == {"creds-1"}


def test_a_profile_outside_the_limits_gets_no_job(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        profile(ns, "foreign", image="docker.io/someone/runner:1"),
        profile(ns, "everywhere", pod={"tolerations": [{"operator": "Exists"}]}),
        profile(ns, "identity", pod={"serviceAccountName": "cloud-admin"}),
        profile(ns, "fine"),
        task(ns, "a", "T1", agentProfile="foreign"),
        task(ns, "b", "T2", agentProfile="everywhere"),
        task(ns, "c", "T3", agentProfile="identity"),
        task(ns, "d", "T4", agentProfile="fine"),
    )
    operators(ns, env=DEFAULTS)
    wait_for("T4's Job", lambda: "d-1" in jobs_by_name(ns))
    wait_for(
        "the others blocked",
        lambda: all(reason(ns, t) == "ProfileNotAllowed" for t in ("T1", "T2", "T3")),
    )
    assert "docker.io/someone/runner:1" in message(ns, "T1")
    assert "every taint" in message(ns, "T2")
    assert "cloud-admin" in message(ns, "T3")
    assert set(jobs_by_name(ns)) == {"d-1"}


def test_the_egress_policy_exists_in_a_fresh_namespace_after_its_first_dispatch(
    ns: str, operators: Callable[..., Operator]
) -> None:
    def policies() -> list[str]:
        out = kubectl("-n", ns, "get", "networkpolicies", "-o", "json").stdout
        return [p["metadata"]["name"] for p in json.loads(out)["items"]]

    assert policies() == []
    apply(task(ns, "t", "T1"))
    operators(ns, env=DEFAULTS)
    wait_for("the Job", lambda: "t-1" in jobs_by_name(ns))
    assert policies() == [POLICY]
    kept = json.loads(kubectl("-n", ns, "get", "networkpolicy", POLICY, "-o", "json").stdout)
    spec = kept["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "agent-operator"}}
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    dns, https = spec["egress"]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
    anywhere = next(b["ipBlock"] for b in https["to"] if b["ipBlock"]["cidr"] == "0.0.0.0/0")
    assert {"169.254.0.0/16", "127.0.0.0/8"} <= set(anywhere["except"])
    # The pods of the attempt are the ones it selects.
    job = jobs_by_name(ns)["t-1"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "agent-operator"


# --------------------------------------------------------------------------- admission


def helm() -> Path:
    out = subprocess.run(
        [str(REPO / "hack" / "build-tools.sh")], check=True, capture_output=True, text=True,
        timeout=3600,
    ).stdout.strip()
    return Path(out) / "helm"


@pytest.fixture
def admission_policy(cluster: Path) -> Iterator[None]:
    """The chart's ValidatingAdmissionPolicy and binding, as the chart renders them."""
    rendered = subprocess.run(
        [str(helm()), "template", "ao", str(REPO / "charts" / "agent-orchestrator"),
         "--namespace", "ao", "--show-only", "templates/admission.yaml"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    kubectl("apply", "-f", "-", input=rendered)
    yield
    kubectl("delete", "--ignore-not-found", "-f", "-", input=rendered)


def as_alice(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return kubectl("--as=alice", *args, check=False, input=input)


def test_a_user_may_reference_only_secrets_they_may_get(ns: str, admission_policy: None) -> None:
    for name in ("readable", "hidden"):
        kubectl("-n", ns, "create", "secret", "generic", name, "--from-literal=token=x")
    apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "alice", "namespace": ns},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["agenttasks", "agentplans"],
                    "verbs": ["get", "list", "create", "update", "patch"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": ["readable", "anthropic-api-key"],
                    "verbs": ["get"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "alice", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "alice"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
        },
    )

    def create(obj: dict[str, object]) -> subprocess.CompletedProcess[str]:
        return as_alice("create", "-f", "-", input=json.dumps(obj))

    def referencing(name: str, secret: str) -> dict[str, object]:
        return task(ns, name, name.upper(), repository={
            "url": "https://github.com/acme/app.git", "credentialsSecret": {"name": secret}})

    # The policy takes effect a moment after it is created.
    deadline = time.monotonic() + 30
    while True:
        refused = create(referencing("probe", "hidden"))
        if refused.returncode != 0 or time.monotonic() > deadline:
            break
        kubectl("-n", ns, "delete", "agenttask", "probe")
        time.sleep(0.5)
    assert refused.returncode != 0, "the admission policy never refused"
    assert "Secret hidden" in refused.stderr and "may not get" in refused.stderr
    assert "spec.repository.credentialsSecret" in refused.stderr

    allowed = create(referencing("fine", "readable"))
    assert allowed.returncode == 0, allowed.stderr
    # An update that leaves the reference alone is not checked again; changing it is.
    patched = as_alice("-n", ns, "patch", "agenttask", "fine", "--type=merge",
                       "-p", json.dumps({"spec": {"title": "renamed"}}))
    assert patched.returncode == 0, patched.stderr
    moved = as_alice("-n", ns, "patch", "agenttask", "fine", "--type=merge", "-p", json.dumps(
        {"spec": {"repository": {"credentialsSecret": {"name": "hidden"}}}}))
    assert moved.returncode != 0 and "Secret hidden" in moved.stderr

    plan = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AgentPlan",
            "metadata": {"name": "p", "namespace": ns}}
    refused_plan = create({**plan, "spec": {"apiKeySecret": {"name": "hidden", "key": "K"}}})
    assert refused_plan.returncode != 0 and "spec.apiKeySecret" in refused_plan.stderr
    default_plan = create({**plan, "spec": {}})  # the default apiKeySecret, which alice may get
    assert default_plan.returncode == 0, default_plan.stderr
    # Someone who may get every Secret (the cluster's admin) is not held back.
    kubectl("create", "-f", "-", input=json.dumps(referencing("admins", "hidden")))
