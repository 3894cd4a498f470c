"""The Helm chart: lint, render with several value sets, refuse bad values, meet the
restricted Pod Security Standard, and ship the plan's agent mappings."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.conftest import CHART, REPO

VALUE_SETS: dict[str, list[str]] = {
    "defaults": [],
    "cluster-wide": ["--set", "operator.allNamespaces=true"],
    "namespaced": ["--set", "operator.allNamespaces=false",
                   "--set", "operator.namespaces={team-a,team-b}"],
    "sidecar-git": ["--set", "syncSidecar.enabled=true", "--set", "syncSidecar.plan=v2",
                    "--set", "syncSidecar.file=docs/plan.md",
                    "--set", "syncSidecar.git.url=https://example.com/p.git",
                    "--set", "syncSidecar.git.credentialsSecret=git-token"],
    "sidecar-file": ["--set", "syncSidecar.enabled=true", "--set", "syncSidecar.plan=v2",
                     "--set", "syncSidecar.file=/plan/plan.md",
                     "--set", "syncSidecar.existingClaim=plans",
                     "--set", "syncSidecar.extraArgs={--log-level=DEBUG,--status-comments=all}"],
    "monitoring": ["--set", "metrics.serviceMonitor.enabled=true",
                   "--set", "metrics.prometheusRule.enabled=true"],
    "trial-key": ["--set", "apiKey.create=true", "--set", "apiKey.value=sk-test"],
    "minimal": ["--set", "replicaCount=1", "--set", "crds.enabled=false",
                "--set", "profiles.enabled=false", "--set", "defaultPlan.enabled=false",
                "--set", "networkPolicy.enabled=false", "--set", "metrics.dashboard.enabled=false",
                "--set", "operator.leaderElection.enabled=false"],
}


def render(helm: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), "template", "ao", str(CHART), "--namespace", "ao",
         "--api-versions", "orchestration.coditect.ai/v1alpha1", *args],
        capture_output=True, text=True, check=check, timeout=120,
    )


def objects(helm: Path, *args: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(render(helm, *args).stdout) if doc]


def is_dashboard(doc: dict[str, Any]) -> bool:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "dashboard"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_lint(helm: Path, values: list[str]) -> None:
    result = subprocess.run([str(helm), "lint", "--strict", str(CHART), *values],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_object_is_labelled_and_pods_are_restricted(helm: Path, values: list[str]) -> None:
    docs = objects(helm, *values)
    assert docs
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/instance") == "ao", doc["metadata"]["name"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert "limits" in container["resources"]


def test_selector_labels_are_apart_from_version_labels(helm: Path) -> None:
    deployment = next(d for d in objects(helm) if d["kind"] == "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert "app.kubernetes.io/version" not in selector
    assert "helm.sh/chart" not in selector


def test_crds_follow_the_values(helm: Path) -> None:
    crds = [d for d in objects(helm) if d["kind"] == "CustomResourceDefinition"]
    names = {d["metadata"]["name"] for d in crds}
    assert {"agenttasks.orchestration.coditect.ai", "agentplans.orchestration.coditect.ai",
            "agentprofiles.orchestration.coditect.ai"} <= names
    assert all(d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for d in crds)
    unkept = [d for d in objects(helm, "--set", "crds.keep=false")
              if d["kind"] == "CustomResourceDefinition"]
    assert unkept and all("helm.sh/resource-policy" not in d["metadata"].get("annotations", {})
                          for d in unkept)
    assert not [d for d in objects(helm, "--set", "crds.enabled=false")
                if d["kind"] == "CustomResourceDefinition"]
    # The chart's CRDs are the repository's generated ones.
    for crd in crds:
        plural = crd["spec"]["names"]["plural"]
        source = REPO / "crds" / f"{plural}.yaml"
        if source.exists():
            assert yaml.safe_load(source.read_text())["spec"] == crd["spec"]


def test_default_profiles_are_the_plans_ten_mappings_plus_fallback(helm: Path) -> None:
    profiles = [d for d in objects(helm) if d["kind"] == "AgentProfile"]
    names = [p["metadata"]["name"] for p in sorted(profiles, key=lambda p: p["spec"]["order"])]
    assert names == [
        "devops-engineer", "security-specialist", "backend-development",
        "frontend-development-agent", "testing-specialist", "codi-documentation-writer",
        "application-performance", "database-architect", "workflow-automation-specialist",
        "observability-platform", "general-purpose",
    ]
    for profile in profiles:
        assert profile["spec"]["systemPrompt"]
        if profile["metadata"]["name"] != "general-purpose":
            re.compile(profile["spec"]["match"])
    assert "match" not in next(p for p in profiles if p["metadata"]["name"] == "general-purpose")["spec"]


def test_namespaced_mode_limits_rbac_to_the_listed_namespaces(helm: Path) -> None:
    docs = [d for d in objects(helm, *VALUE_SETS["namespaced"]) if not is_dashboard(d)]
    roles = sorted(d["metadata"]["namespace"] for d in docs
                   if d["kind"] == "Role" and not d["metadata"]["name"].endswith("-leases"))
    assert roles == ["ao", "team-a", "team-b"]
    cluster_roles = [d for d in docs if d["kind"] == "ClusterRole"
                     and not d["metadata"]["name"].endswith(("-view", "-edit", "-admin"))]
    assert len(cluster_roles) == 1
    resources = {r for rule in cluster_roles[0]["rules"] for r in rule["resources"]}
    assert resources == {"namespaces", "customresourcedefinitions"}
    env = {e["name"]: e.get("value") for e in next(
        d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AGENT_OPERATOR_NAMESPACES"] == "ao,team-a,team-b"
    assert env["AGENT_OPERATOR_ALL_NAMESPACES"] == "false"


def sync_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-sync"))


def test_sidecar_in_git_mode_gets_its_token_from_the_secret(helm: Path) -> None:
    deployment = sync_deployment(objects(helm, *VALUE_SETS["sidecar-git"]))
    [sync] = deployment["spec"]["template"]["spec"]["containers"]
    assert sync["name"] == "sync"
    assert "--git-url=https://example.com/p.git" in sync["args"]
    assert "--git-path=docs/plan.md" in sync["args"]
    token = next(e for e in sync["env"] if e["name"] == "GIT_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "git-token", "key": "token"}


def test_the_agents_policy_is_the_operators_to_keep(helm: Path) -> None:
    """The chart renders no agent NetworkPolicy (one allowing 443 anywhere would widen the
    operator's, policies add up); it hands the operator the egress settings, and RBAC to
    write the policy."""
    docs = objects(helm)
    policies = [d["metadata"]["name"] for d in docs if d["kind"] == "NetworkPolicy"]
    assert not any(name.endswith("-agents") for name in policies)
    deployment = next(d for d in docs if d["kind"] == "Deployment" and not is_dashboard(d))
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AGENT_OPERATOR_EGRESS_POLICY"] == "true"
    assert env["AGENT_OPERATOR_EGRESS_EXCEPT_CIDRS"] == "169.254.0.0/16,127.0.0.0/8,fe80::/10,::1/128"
    assert env["AGENT_OPERATOR_CLUSTER_CIDRS"] == "10.244.0.0/16,10.96.0.0/12"
    assert env["AGENT_OPERATOR_EGRESS_DNS_LABELS"] == "k8s-app=kube-dns"
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "ao-agent-orchestrator")
    rule = next(r for r in role["rules"] if "networkpolicies" in r["resources"])
    assert rule["verbs"] == ["get", "create", "update"]
    off = objects(helm, "--set", "networkPolicy.agents.enabled=false")
    env = {e["name"]: e.get("value") for e in next(
        d for d in off if d["kind"] == "Deployment" and not is_dashboard(d))["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AGENT_OPERATOR_EGRESS_POLICY"] == "false"


def test_namespaced_mode_is_the_default(helm: Path) -> None:
    docs = objects(helm)
    assert not any(d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"] == "ao-agent-orchestrator"
                   for d in docs)
    deployment = next(d for d in docs if d["kind"] == "Deployment" and not is_dashboard(d))
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AGENT_OPERATOR_ALL_NAMESPACES"] == "false"
    assert env["AGENT_OPERATOR_NAMESPACES"] == "ao"
    for volume in deployment["spec"]["template"]["spec"]["volumes"]:
        assert volume["emptyDir"]["sizeLimit"]


def test_limits_and_allowlists_reach_the_operator(helm: Path) -> None:
    from agent_operator.settings import OperatorSettings

    docs = objects(helm, "--set", "security.allowedImages={registry.example/team/}",
                   "--set", "security.allowedLabelPrefixes={team.example/}")
    deployment = next(d for d in docs if d["kind"] == "Deployment" and not is_dashboard(d))
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
           if "value" in e}
    settings = OperatorSettings(**{k[len("AGENT_OPERATOR_"):].lower(): v for k, v in env.items()
                                   if k.startswith("AGENT_OPERATOR_") and k not in (
                                       "AGENT_OPERATOR_NAMESPACES",)}, namespaces=["ao"])
    policy = settings.policy()
    assert policy.images == ("ghcr.io/coditect-ai/agent-orchestrator-runner:",
                             "ghcr.io/coditect-ai/agent-orchestrator-runner@", "registry.example/team/")
    assert policy.label_prefixes == ("team.example/",)
    assert policy.annotation_prefixes == () and policy.service_accounts == ()
    assert policy.api_urls == ("https://api.anthropic.com",)
    dashboard = next(d for d in docs if d["kind"] == "Deployment" and is_dashboard(d))
    shown = {e["name"]: e.get("value") for e in dashboard["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert shown["AGENT_OPERATOR_ALLOWED_IMAGES"] == env["AGENT_OPERATOR_ALLOWED_IMAGES"]  # same reasons
    assert "https://github.com" in policy.repository_urls
    assert not policy.tolerate_all


def test_secret_reference_policy_and_user_roles(helm: Path) -> None:
    docs = objects(helm)
    vap = next(d for d in docs if d["kind"] == "ValidatingAdmissionPolicy")
    assert vap["spec"]["failurePolicy"] == "Fail"
    assert "authorizer.group('')" in vap["spec"]["validations"][0]["expression"]
    binding = next(d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == vap["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    view, edit, admin = (roles[f"ao-agent-orchestrator-{n}"] for n in ("view", "edit", "admin"))
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert set(view["rules"][0]["verbs"]) == {"get", "list", "watch"}
    assert edit["rules"][0]["resources"] == ["agenttasks", "agentplans"]
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in edit["metadata"]["labels"]
    assert admin["rules"][0]["resources"] == ["agentprofiles"]
    assert set(admin["metadata"]["labels"]) & {"rbac.authorization.k8s.io/aggregate-to-edit"} == set()
    off = objects(helm, "--set", "security.secretReferencePolicy=false", "--set", "rbac.userRoles=false")
    assert not any(d["kind"].startswith("ValidatingAdmissionPolicy") for d in off)
    assert not any(d["metadata"]["name"].endswith("-view") for d in off)


BAD_VALUES = [
    pytest.param(["--set", "replicas=2"], "additional properties 'replicas'", id="unknown-key"),
    pytest.param(["--set", "replicaCount=two"], "replicaCount", id="wrong-type"),
    pytest.param(["--set", "operator.logLevel=LOUD"], "logLevel", id="bad-enum"),
    pytest.param(["--set", "operator.maxConcurrent=0"], "maxConcurrent", id="zero-cap"),
    pytest.param(["--set", "syncSidecar.gitUrl=x"], "gitUrl", id="nested-unknown-key"),
    pytest.param(["--set", "profiles.items[0].name=Bad_Name", "--set", "profiles.items[0].order=1"],
                 "name", id="bad-profile-name"),
    pytest.param(["--set", "syncSidecar.enabled=true"], "syncSidecar.plan is required", id="sidecar-needs-plan"),
    pytest.param(["--set", "apiKey.create=true"], "apiKey.value is required", id="trial-key-needs-value"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES)
def test_bad_values_are_refused(helm: Path, values: list[str], message: str) -> None:
    result = render(helm, *values, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


DATA_KEYS = {"resources", "requests", "limits", "labels", "annotations", "items"}


def test_values_file_documents_every_key() -> None:
    """Every setting in values.yaml has a comment line right above it (keys inside
    data such as resources, labels and the profile list are data, not settings)."""
    parents: list[tuple[int, str]] = []
    lines = (CHART / "values.yaml").read_text().splitlines()
    for number, line in enumerate(lines, 1):
        match = re.match(r"^(\s*)([A-Za-z][\w]*):", line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent, key = len(match.group(1)), match.group(2)
        parents = [(i, k) for i, k in parents if i < indent]
        if not any(k in DATA_KEYS for _, k in parents):
            assert lines[number - 2].strip().startswith("#"), f"values.yaml:{number}: {line}"
        parents.append((indent, key))


def test_argocd_applications_match_the_argocd_schema() -> None:
    crd_path = subprocess.run([str(REPO / "hack" / "argocd-schema.sh")], check=True,
                              capture_output=True, text=True, timeout=600).stdout.strip()
    crd = yaml.safe_load(Path(crd_path).read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    apps = sorted((REPO / "manifests" / "argocd").glob("*.yaml"))
    assert len(apps) == 2
    for path in apps:
        app = yaml.safe_load(path.read_text())
        assert app["apiVersion"] == f"argoproj.io/{crd['spec']['versions'][0]['name']}"
        jsonschema.validate(app, schema)
        required = set(schema["properties"]["spec"].get("required", []))
        assert required <= set(app["spec"]), path
    plan_app = yaml.safe_load((REPO / "manifests" / "argocd" / "plan-tasks.yaml").read_text())
    ignored = {p for d in plan_app["spec"]["ignoreDifferences"] for p in d["jsonPointers"]}
    assert {"/status", "/metadata/ownerReferences"} <= ignored
    broken = json.loads(json.dumps(plan_app))
    broken["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_operator_env_and_sidecar_args_are_understood_by_the_programs(
    helm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart speaks the programs' real settings: no env name or flag drifts."""
    from agent_operator.settings import OperatorSettings
    from agent_sync.cli import build_parser

    for values in (VALUE_SETS["sidecar-git"], VALUE_SETS["sidecar-file"], VALUE_SETS["namespaced"]):
        docs = objects(helm, *values)
        containers = {c["name"]: c for d in docs if d["kind"] == "Deployment" and not is_dashboard(d)
                      for c in d["spec"]["template"]["spec"]["containers"]}
        env = {e["name"]: e["value"] for e in containers["operator"]["env"] if "value" in e}
        ours = {k for k in env if k.startswith("AGENT_OPERATOR_")}
        known = {f"AGENT_OPERATOR_{name.upper()}" for name in OperatorSettings.model_fields}
        assert ours <= known, sorted(ours - known)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = OperatorSettings()
        assert settings.max_concurrent == 5
        if "sync" in containers:
            args = build_parser().parse_args(containers["sync"]["args"][1:])
            assert args.plan == "v2"


def test_first_install_without_the_crds_defers_profiles_and_says_so(helm: Path) -> None:
    """Helm cannot build AgentProfiles before their CRD exists: a fresh install renders
    the CRDs and leaves the profiles and plan to the next upgrade (NOTES.txt says so)."""
    result = subprocess.run(
        [str(helm), "template", "ao", str(CHART), "--namespace", "ao", "--set", "apiKey.create=true",
         "--set", "apiKey.value=sk-x"], capture_output=True, text=True, check=True, timeout=120)
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout) if d]
    assert "CustomResourceDefinition" in kinds
    assert "AgentProfile" not in kinds and "AgentPlan" not in kinds
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    assert 'if not (.Capabilities.APIVersions.Has "orchestration.coditect.ai/v1alpha1")' in notes


def test_trial_key_secret_goes_to_every_profile_namespace(helm: Path) -> None:
    docs = objects(helm, *VALUE_SETS["trial-key"], *VALUE_SETS["namespaced"])
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert sorted(d["metadata"]["namespace"] for d in secrets) == ["ao", "team-a", "team-b"]
    assert all(d["metadata"]["labels"]["orchestration.coditect.ai/agent-credential"] == "true"
               for d in secrets)


def test_leader_election_has_a_lease_role_by_name_in_the_release_namespace(helm: Path) -> None:
    docs = objects(helm, *VALUE_SETS["sidecar-file"])
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"].endswith("-leases"))
    assert role["metadata"]["namespace"] == "ao"
    by_name, create = role["rules"]
    assert by_name["resourceNames"] == ["ao-agent-orchestrator"]
    assert by_name["verbs"] == ["get", "update"]
    assert create["verbs"] == ["create"] and "resourceNames" not in create
    assert not any("kopf.dev" in rule.get("apiGroups", []) for d in docs
                   if d["kind"] in ("Role", "ClusterRole") for rule in d["rules"])
    env = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "ao-agent-orchestrator")[
        "spec"]["template"]["spec"]["containers"][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["AGENT_OPERATOR_LEADER_ELECTION"] == "true"
    assert values["AGENT_OPERATOR_LEASE_NAME"] == "ao-agent-orchestrator"
    assert values["AGENT_OPERATOR_LEASE_SECONDS"] == "15"
    pod_namespace = next(e for e in env if e["name"] == "POD_NAMESPACE")
    assert pod_namespace["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    minimal = objects(helm, *VALUE_SETS["minimal"])
    assert not any(d["kind"] == "Role" and d["metadata"]["name"].endswith("-leases")
                   for d in minimal)


def test_the_sidecar_has_its_own_deployment_and_narrow_role(helm: Path) -> None:
    docs = objects(helm, *VALUE_SETS["sidecar-file"], "--set", "syncSidecar.namespace=plans")
    operator = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "ao-agent-orchestrator")
    assert [c["name"] for c in operator["spec"]["template"]["spec"]["containers"]] == ["operator"]
    pod = sync_deployment(docs)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "ao-agent-orchestrator-sync"
    assert {v["name"]: v.get("emptyDir", {}).get("sizeLimit") for v in pod["volumes"]} == {
        "tmp": "256Mi", "work": "2Gi", "plan": None}
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "ao-agent-orchestrator-sync")
    assert role["metadata"]["namespace"] == "plans"
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == {"agenttasks", "agentplans", "agentplans/status", "leases", "secrets"}
    for rule in role["rules"]:
        if rule["resources"] == ["secrets"]:
            assert rule["resourceNames"] == ["anthropic-api-key"] and rule["verbs"] == ["get"]
        if rule["resources"] == ["leases"] and "update" in rule["verbs"]:
            assert rule["resourceNames"] == ["agent-sync-v2"]
    binding = next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "ao-agent-orchestrator-sync")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ao-agent-orchestrator-sync",
                                    "namespace": "ao"}]
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "ao-agent-orchestrator-sync-metrics")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "sync"


@pytest.mark.parametrize("values", [VALUE_SETS["cluster-wide"], VALUE_SETS["namespaced"]],
                         ids=["cluster-wide", "namespaced"])
def test_dashboard_reads_only_what_the_operator_watches(helm: Path, values: list[str]) -> None:
    """agent-dashboard: its own Deployment and ServiceAccount, read-only RBAC without
    Secrets, the operator's namespaces and cap, restricted like the operator."""
    from agent_console.dashboard import build_parser

    docs = [d for d in objects(helm, *values) if is_dashboard(d)]
    kinds = sorted(d["kind"] for d in docs)
    namespaced = "operator.allNamespaces=true" not in values
    if namespaced:
        assert kinds == ["Deployment", "NetworkPolicy", "Role", "Role", "Role", "RoleBinding",
                         "RoleBinding", "RoleBinding", "Service", "ServiceAccount"]
    else:
        assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "NetworkPolicy",
                         "Service", "ServiceAccount"]
    for role in (d for d in docs if d["kind"] in ("Role", "ClusterRole")):
        for rule in role["rules"]:
            assert set(rule["verbs"]) == {"get", "list", "watch"}
            assert "secrets" not in rule["resources"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "ao-agent-orchestrator-dashboard"
    [container] = pod["containers"]
    assert container["args"][0] == "agent-dashboard"
    args = build_parser().parse_args(container["args"][1:])
    assert args.max_concurrent == 5
    if namespaced:
        assert args.namespaces == ["ao", "team-a", "team-b"]
    else:
        assert args.all_namespaces
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["spec"]["type"] == "ClusterIP"
