"""The CRDs on a real API server: installed, Established, samples accepted, bad
objects refused with a message naming the field, printer columns and explain."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import REPO, kubectl

pytestmark = pytest.mark.integration

EXAMPLES = REPO / "manifests" / "examples"
API = "orchestration.coditect.ai/v1alpha1"


def task(**spec: Any) -> dict[str, Any]:
    body = {"taskId": "T001.001", "title": "Write the guide", **spec}
    return {"apiVersion": API, "kind": "AgentTask", "metadata": {"name": "bad"}, "spec": body}


def plan(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "AgentPlan", "metadata": {"name": "bad"}, "spec": spec}


def profile(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "AgentProfile", "metadata": {"name": "bad"}, "spec": spec}


def without(obj: dict[str, Any], field: str) -> dict[str, Any]:
    del obj["spec"][field]
    return obj


INVALID = [
    pytest.param(without(task(), "taskId"), "spec.taskId", id="task-missing-taskId"),
    pytest.param(without(task(), "title"), "spec.title", id="task-missing-title"),
    pytest.param(task(priority="P5"), "spec.priority", id="task-priority-P5"),
    pytest.param(task(maxRetries=21), "spec.maxRetries", id="task-maxRetries-too-high"),
    pytest.param(task(maxRetries=-1), "spec.maxRetries", id="task-maxRetries-negative"),
    pytest.param(task(timeoutSeconds=0), "spec.timeoutSeconds", id="task-timeout-zero"),
    pytest.param(
        task(dependsOn=["T001.001"]), "may not depend on itself", id="task-self-dependency"
    ),
    pytest.param(task(dependsOn="T001.002"), "spec.dependsOn", id="task-dependsOn-not-list"),
    pytest.param(
        task(dependsOn=["T001.002", "T001.002"]), "spec.dependsOn", id="task-dependsOn-duplicate"
    ),
    pytest.param(task(done="yes"), "spec.done", id="task-done-not-bool"),
    pytest.param(task(taskId="T 001"), "spec.taskId", id="task-taskId-bad-chars"),
    pytest.param(task(color="blue"), "spec.color", id="task-unknown-field"),
    pytest.param(
        task(repository={"branch": "main"}), "spec.repository.url", id="task-repository-no-url"
    ),
    pytest.param(plan(maxConcurrent=0), "spec.maxConcurrent", id="plan-maxConcurrent-zero"),
    pytest.param(
        plan(retry={"backoffBaseSeconds": 60, "backoffCapSeconds": 10}),
        "backoffCapSeconds must be at least",
        id="plan-backoff-cap-below-base",
    ),
    pytest.param(
        plan(circuitBreaker={"consecutiveFailures": 0}),
        "spec.circuitBreaker.consecutiveFailures",
        id="plan-circuit-zero",
    ),
    pytest.param(plan(paused="no"), "spec.paused", id="plan-paused-not-bool"),
    pytest.param(
        plan(budget={"maxCostUSD": 0}), "spec.budget.maxCostUSD", id="plan-budget-zero"
    ),
    pytest.param(
        plan(budget={"dailyCostUSD": -1}), "spec.budget.dailyCostUSD", id="plan-daily-negative"
    ),
    pytest.param(
        plan(budget={"maxCostUsd": 5}), "maxCostUsd", id="plan-budget-misspelt"
    ),
    pytest.param(
        task(budget={"maxTokens": 0}), "spec.budget.maxTokens", id="task-budget-tokens-zero"
    ),
    pytest.param(
        profile(budget={"maxCostUSD": 2000000}), "spec.budget.maxCostUSD",
        id="profile-budget-too-large",
    ),
    pytest.param(profile(maxConcurrent=0), "spec.maxConcurrent", id="profile-maxConcurrent-zero"),
    pytest.param(profile(maxTurns="ten"), "spec.maxTurns", id="profile-maxTurns-not-int"),
    pytest.param(
        profile(env=[{"name": "ANTHROPIC_API_KEY", "value": "sk-x"}]),
        "set by the operator and cannot be overridden",
        id="profile-env-reserved-name",
    ),
    pytest.param(
        profile(pod={"tolerations": [{"operator": "Maybe"}]}),
        "spec.pod.tolerations[0].operator",
        id="profile-toleration-operator",
    ),
]


def test_crds_are_established(cluster: Path) -> None:
    out = kubectl("get", "crd", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Established')].status} {end}").stdout
    for plural in ("agenttasks", "agentplans", "agentprofiles"):
        assert f"{plural}.orchestration.coditect.ai=True" in out


def test_samples_are_accepted(namespace: str) -> None:
    result = kubectl("apply", "--validate=strict", "-n", namespace, "-f", str(EXAMPLES))
    assert "agenttask.orchestration.coditect.ai/v2-platform-t001-009 created" in result.stdout
    created = kubectl("get", "agents", "-n", namespace, "-o", "name").stdout.split()
    assert "agentplan.orchestration.coditect.ai/v2-platform" in created
    assert "agentprofile.orchestration.coditect.ai/terraform-specialist" in created
    assert len([n for n in created if n.startswith("agenttask.")]) == 3


def test_defaults_are_applied(namespace: str) -> None:
    kubectl("create", "-n", namespace, "-f", "-", input=yaml.safe_dump(task()))
    spec = yaml.safe_load(kubectl("get", "atask", "bad", "-n", namespace, "-o", "yaml").stdout)["spec"]
    assert spec["priority"] == "P2"
    assert spec["timeoutSeconds"] == 7200
    assert spec["done"] is False
    kubectl("create", "-n", namespace, "-f", "-", input=yaml.safe_dump(plan()))
    pspec = yaml.safe_load(kubectl("get", "agentplan", "bad", "-n", namespace, "-o", "yaml").stdout)["spec"]
    assert pspec["maxConcurrent"] == 5
    assert pspec["retry"] == {"maxRetries": 3, "backoffBaseSeconds": 2, "backoffCapSeconds": 600}
    assert pspec["circuitBreaker"]["consecutiveFailures"] == 5
    assert pspec["apiKeySecret"] == {"name": "anthropic-api-key", "key": "ANTHROPIC_API_KEY"}


@pytest.mark.parametrize(("obj", "field"), INVALID)
def test_invalid_objects_are_rejected(namespace: str, obj: dict[str, Any], field: str) -> None:
    result = kubectl(
        "create", "--validate=strict", "-n", namespace, "-f", "-",
        input=yaml.safe_dump(obj), check=False,
    )
    assert result.returncode != 0, f"accepted: {obj}"
    assert field in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("rule", "engine_says"),
    [
        ("deploy(?!ment)", "invalid or unsupported Perl syntax: `(?!`"),
        ("(?<=re)deploy", "invalid named capture: `(?<=re)deploy`"),
        (r"(deploy)\1", "invalid escape sequence: `\\1`"),
        ("(deploy", "missing closing ): `(deploy`"),
        ("deploy{2,1}", "invalid repeat count: `{2,1}`"),
    ],
    ids=["lookahead", "lookbehind", "backreference", "unclosed-group", "bad-repeat"],
)
def test_a_rule_that_is_not_re2_is_refused_at_admission(
    namespace: str, rule: str, engine_says: str
) -> None:
    result = kubectl(
        "create", "-n", namespace, "-f", "-", input=yaml.safe_dump(profile(match=rule)),
        check=False,
    )
    assert result.returncode != 0, "accepted"
    assert result.stderr.strip() == (
        'The AgentProfile "bad" is invalid: spec.match: Invalid value: "string": error '
        f"parsing regexp: {engine_says} evaluating rule: spec.match must be an RE2 regular "
        "expression"
    )
    assert kubectl("get", "aprofile", "-n", namespace, "-o", "name").stdout == ""


def test_re2_rules_are_accepted_and_an_edit_to_a_bad_one_is_refused(namespace: str) -> None:
    good = r"(?i)\b(deploy(ment)?|k8s|helm)\b|^infra:"
    kubectl("create", "-n", namespace, "-f", "-", input=yaml.safe_dump(profile(match=good)))
    assert kubectl("get", "aprofile", "bad", "-n", namespace,
                   "-o", "jsonpath={.spec.match}").stdout == good
    edit = kubectl("patch", "aprofile", "bad", "-n", namespace, "--type=merge",
                   "-p", '{"spec":{"match":"ship(?=it)"}}', check=False)
    assert edit.returncode != 0 and "spec.match" in edit.stderr
    assert kubectl("get", "aprofile", "bad", "-n", namespace,
                   "-o", "jsonpath={.spec.match}").stdout == good
    kubectl("patch", "aprofile", "bad", "-n", namespace, "--type=json",
            "-p", '[{"op":"remove","path":"/spec/match"}]')  # no rule at all is fine


def test_a_profile_stored_before_the_check_keeps_its_rule_status_and_edits(
    namespace: str,
) -> None:
    """Upgrading the CRDs over a profile with a bad rule: the operator can still write its
    status (Ready False), other fields can be edited, and only a new rule is checked."""
    crd_file = REPO / "crds" / "agentprofiles.yaml"
    old_crd = yaml.safe_load(crd_file.read_text())
    spec_schema = old_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    del spec_schema["spec"]["properties"]["match"]["x-kubernetes-validations"]
    try:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                input=yaml.safe_dump(old_crd))
        stored = profile(match="deploy(?!ment)")
        for _ in range(40):  # the API server picks up the schema within a moment
            created = kubectl("create", "-n", namespace, "-f", "-",
                              input=yaml.safe_dump(stored), check=False)
            if created.returncode == 0:
                break
            time.sleep(0.25)
        assert created.returncode == 0, created.stderr
    finally:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd_file))
    status = {"status": {"conditions": [{
        "type": "Ready", "status": "False", "reason": "InvalidRule", "message": "bad rule",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    for _ in range(40):  # until the checking schema is served again
        probe = kubectl("create", "-n", namespace, "-f", "-", check=False,
                        input=yaml.safe_dump({**profile(match="(x"), "metadata": {"name": "p"}}))
        if probe.returncode != 0:
            break
        kubectl("delete", "aprofile", "p", "-n", namespace)
        time.sleep(0.25)
    assert "spec.match" in probe.stderr
    kubectl("patch", "aprofile", "bad", "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps(status))
    kubectl("patch", "aprofile", "bad", "-n", namespace, "--type=merge",
            "-p", '{"spec":{"order":5}}')
    worse = kubectl("patch", "aprofile", "bad", "-n", namespace, "--type=merge",
                    "-p", '{"spec":{"match":"ship(?=it)"}}', check=False)
    assert worse.returncode != 0 and "spec.match" in worse.stderr
    kubectl("patch", "aprofile", "bad", "-n", namespace, "--type=merge",
            "-p", '{"spec":{"match":"deploy"}}')


def test_printer_columns(namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "tasks.yaml"))
    header = kubectl("get", "agenttasks", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "TASK", "PRIORITY", "AGENT", "PHASE", "ATTEMPTS", "COST", "AGE"]
    wide = kubectl("get", "atask", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert wide[-3:] == ["BLOCKED-BY", "PR", "MESSAGE"]
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "plan.yaml"))
    plan_header = kubectl("get", "agentplans", "-n", namespace).stdout.splitlines()[0].split()
    assert plan_header == [
        "NAME", "PROGRESS", "RUNNING", "FAILED", "CIRCUIT", "SPENT", "REMAINING", "AGE"
    ]
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "profile.yaml"))
    profile_lines = kubectl("get", "agentprofiles", "-n", namespace).stdout.splitlines()
    assert profile_lines[0].split() == ["NAME", "MODEL", "MATCH", "MAX", "READY", "AGE"]
    assert "claude-sonnet-4-6" in profile_lines[1]


def test_explain_prints_field_descriptions(cluster: Path) -> None:
    out = kubectl("explain", "agenttask.spec.dependsOn").stdout
    assert "must succeed (or be marked done)" in out
    out = kubectl("explain", "agentplan.spec.circuitBreaker.cooldownSeconds").stdout
    assert "trial attempt" in out


def test_status_is_a_subresource(namespace: str) -> None:
    kubectl("create", "-n", namespace, "-f", "-", input=yaml.safe_dump(task()))
    # A status written through the main resource is ignored ...
    kubectl("patch", "atask", "bad", "-n", namespace, "--type=merge", "-p", '{"status":{"phase":"Running"}}')
    assert kubectl("get", "atask", "bad", "-n", namespace, "-o", "jsonpath={.status.phase}").stdout == ""
    # ... and accepted through /status, with the conditions list-map keyed by type.
    patch = {"status": {"phase": "Blocked", "conditions": [
        {"type": "Ready", "status": "False", "reason": "Gated", "message": "gate"}]}}
    kubectl("patch", "atask", "bad", "-n", namespace, "--subresource=status", "--type=merge",
            "-p", yaml.safe_dump(patch))
    assert kubectl("get", "atask", "bad", "-n", namespace, "-o", "jsonpath={.status.phase}").stdout == "Blocked"
    bad = {"status": {"phase": "Sleeping"}}
    result = kubectl("patch", "atask", "bad", "-n", namespace, "--subresource=status",
                     "--type=merge", "-p", yaml.safe_dump(bad), check=False)
    assert result.returncode != 0 and "status.phase" in result.stderr
