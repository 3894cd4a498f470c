"""Job manifests and names, and the watch-fed cache."""

from __future__ import annotations

import json
from typing import Any

from agent_api import attempt, models, names
from agent_operator import jobs, store


def _task(name: str = "myplan-t001-009") -> dict[str, Any]:
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentTask",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": "u1",
            "annotations": {"orchestration.coditect.ai/kopf-managed": "x", "team": "a"},
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "taskId": "T001.009",
            "title": "t",
            "timeoutSeconds": 60,
            "repository": {"url": "https://x", "credentialsSecret": {"name": "git"}},
        },
    }


def _build(task: dict[str, Any], profile: models.AgentProfileSpec | None = None) -> dict[str, Any]:
    return jobs.build(
        jobs.JobInputs(
            task=task,
            attempt=3,
            profile_name="devops",
            profile=profile
            or models.AgentProfileSpec(
                model="m",
                max_tokens=5,
                max_turns=6,
                image="img",
                resources={"limits": {"cpu": "1"}},
                pod={
                    "annotations": {"sim": "fail"},
                    "nodeSelector": {"pool": "agents"},
                    "runtimeClassName": "gvisor",
                },
            ),
            api_key=models.SecretKeyRef(name="key", key="K"),
            plan_name="myplan",
            context=attempt.AttemptContext(
                profile=attempt.ProfileContext(
                    name="devops", model="m", system_prompt="", max_tokens=5, max_turns=6
                ),
                attempt=3,
                previous_failure=attempt.PreviousFailure(reason="ToolError", summary="boom"),
                dependencies=[attempt.DependencyResult(task_id="T0", title="x", summary="s")],
                verify=["pytest -q", "ruff check ."],
            ),
            ttl_seconds=99,
            created_by="me",
        )
    )


def test_job_names_are_deterministic_and_short() -> None:
    assert jobs.job_name("myplan-t001-009", 1) == "myplan-t001-009-1"
    long = "x" * 80
    assert jobs.job_name(long, 12) == jobs.job_name(long, 12)
    assert len(jobs.job_name(long, 12)) <= 63 and jobs.job_name(long, 12).endswith("-12")
    assert jobs.job_name(long, 1) != jobs.job_name("x" * 81, 1)
    assert names.label_value("T001.009") == "T001.009"
    assert len(names.label_value("y" * 100)) <= 63


def test_the_job_follows_the_runner_contract_and_is_locked_down() -> None:
    job = _build(_task())
    assert job["metadata"]["name"] == "myplan-t001-009-3"
    assert job["metadata"]["labels"][models.LABEL_ATTEMPT] == "3"
    assert job["metadata"]["ownerReferences"][0]["controller"] is True
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 60
    assert spec["ttlSecondsAfterFinished"] == 99
    pod = spec["template"]["spec"]
    assert spec["template"]["metadata"]["annotations"] == {"sim": "fail"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["nodeSelector"] == {"pool": "agents"} and pod["runtimeClassName"] == "gvisor"
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["command"] == ["agent-runner", "--workspace", "/workspace"]
    assert container["resources"] == {
        "requests": {"ephemeral-storage": jobs.EPHEMERAL_STORAGE_REQUEST},
        "limits": {"cpu": "1", "ephemeral-storage": jobs.EPHEMERAL_STORAGE_LIMIT},
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["ANTHROPIC_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "key", "key": "K"}
    assert env["GIT_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "git", "key": "token"}
    assert env["AGENT_MODEL"]["value"] == "m" and env["AGENT_TIMEOUT_SECONDS"]["value"] == "60"
    payload = json.loads(env["AGENT_TASK_JSON"]["value"])
    assert payload["spec"]["taskId"] == "T001.009"
    assert "managedFields" not in payload["metadata"]
    assert payload["metadata"]["annotations"] == {"team": "a"}
    assert payload["context"]["attempt"] == 3
    assert payload["context"]["profile"] == {
        "name": "devops",
        "model": "m",
        "systemPrompt": "",
        "maxTokens": 5,
        "maxTurns": 6,
        "expectChanges": True,
    }
    assert payload["context"]["verify"] == ["pytest -q", "ruff check ."]
    assert payload["context"]["previousFailure"] == {"reason": "ToolError", "summary": "boom"}


def test_job_view_reads_outcomes() -> None:
    job = _build(_task())
    job["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    view = jobs.view(job)
    assert view is not None and view.active and view.attempt == 3 and view.owner_uid == "u1"
    job["status"] = {
        "conditions": [
            {
                "type": "Failed",
                "status": "True",
                "reason": "DeadlineExceeded",
                "lastTransitionTime": "2026-01-01T00:01:00Z",
            }
        ]
    }
    failed = jobs.view(job)
    assert failed is not None and failed.finished == "Failed"
    assert failed.failure_reason == "DeadlineExceeded" and failed.completed is not None
    assert jobs.view({"metadata": {"labels": {}}}) is None


def _raw(name: str, version: int, uid: str = "u") -> dict[str, Any]:
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentPlan",
        "metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": str(version)},
        "spec": {},
    }


def test_store_keeps_the_newest_version_and_forgets_deleted_objects() -> None:
    cache = store.Store()
    assert cache.apply("AgentPlan", "ADDED", _raw("p", 5))
    assert not cache.apply("AgentPlan", "MODIFIED", _raw("p", 4))  # older: ignored
    assert cache.apply("AgentPlan", "DELETED", _raw("p", 6))
    cache.replace("AgentPlan", [_raw("p", 5)], "5")  # a late list cannot resurrect it
    assert cache.count("AgentPlan") == 0
    cache.apply("AgentPlan", "ADDED", _raw("new", 10, uid="n"))
    cache.apply("AgentPlan", "ADDED", _raw("old", 3, uid="o"))
    cache.replace("AgentPlan", [], "8")  # 'old' is gone; 'new' is newer than the list
    assert cache.raw("AgentPlan", ("ns", "new")) is not None
    assert cache.raw("AgentPlan", ("ns", "old")) is None


def test_store_skips_objects_that_do_not_parse() -> None:
    cache = store.Store()
    bad = {
        "apiVersion": models.API_VERSION,
        "kind": "AgentTask",
        "metadata": {"name": "t", "namespace": "ns", "uid": "x", "resourceVersion": "1"},
        "spec": {"title": "no task id"},
    }
    cache.apply("AgentTask", "ADDED", bad)
    assert cache.snapshot().tasks == []


def test_store_drops_what_no_decision_reads() -> None:
    cache = store.Store()
    raw = _raw("p", 1)
    raw["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    raw["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        "team": "a",
    }
    cache.apply("AgentPlan", "ADDED", raw)
    kept = cache.raw("AgentPlan", ("ns", "p"))
    assert kept is not None and "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"] == {"team": "a"}
    assert "managedFields" in raw["metadata"]  # the caller's object is untouched


def test_profile_env_reaches_the_runner_but_never_overrides_the_operators_settings() -> None:
    profile = models.AgentProfileSpec(
        model="m",
        env=[
            {"name": "ANTHROPIC_BASE_URL", "value": "https://proxy.internal"},
            {"name": "AGENT_IDLE_TIMEOUT_SECONDS", "value": "120"},
        ],
    )
    # A reserved name is refused by the CRD; built from an object that slipped past it,
    # the Job still keeps the operator's value.
    profile.env.append(models.EnvVar(name="AGENT_MODEL", value="other"))
    env = _build(_task(), profile)["spec"]["template"]["spec"]["containers"][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["ANTHROPIC_BASE_URL"] == "https://proxy.internal"
    assert values["AGENT_IDLE_TIMEOUT_SECONDS"] == "120"
    assert [e["value"] for e in env if e["name"] == "AGENT_MODEL"] == ["m"]
