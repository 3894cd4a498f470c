"""Job manifests and names, and the watch-fed cache."""

from __future__ import annotations

import dataclasses
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


def _inputs(
    task: dict[str, Any], profile: models.AgentProfileSpec | None = None
) -> jobs.JobInputs:
    return jobs.JobInputs(
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


def _build(task: dict[str, Any], profile: models.AgentProfileSpec | None = None) -> dict[str, Any]:
    return jobs.build(_inputs(task, profile))


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
    pod_annotations = dict(spec["template"]["metadata"]["annotations"])
    pod_annotations.pop(attempt.TASK_INPUT_ANNOTATION)  # the task input, checked below
    assert pod_annotations == {"sim": "fail"}  # the profile's own
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["nodeSelector"] == {"pool": "agents"} and pod["runtimeClassName"] == "gvisor"
    assert pod["shareProcessNamespace"] is False
    runner, workspace = pod["containers"]
    assert (runner["name"], workspace["name"]) == ("agent", "workspace")
    for container in (runner, workspace, *pod["initContainers"]):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert runner["command"] == ["agent-runner", "--workspace", "/workspace"]
    assert runner["resources"] == jobs.RUNNER_RESOURCES
    assert workspace["resources"] == {  # the profile's: builds run here
        "requests": {"ephemeral-storage": jobs.EPHEMERAL_STORAGE_REQUEST},
        "limits": {"cpu": "1", "ephemeral-storage": jobs.EPHEMERAL_STORAGE_LIMIT},
    }
    env = {e["name"]: e for e in runner["env"]}
    assert env["ANTHROPIC_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "key", "key": "K"}
    assert env["GIT_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "git", "key": "token"}
    assert env["AGENT_MODEL"]["value"] == "m" and env["AGENT_TIMEOUT_SECONDS"]["value"] == "60"
    assert env["AGENT_TASK_FILE"]["value"] == attempt.TASK_FILE_PATH
    assert "AGENT_TASK_JSON" not in env
    # The task input is a file from the pod's own annotation (the downward API), mounted
    # into the runner only; a task this small needs no ConfigMap.
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["task"]["downwardAPI"]["items"] == [
        {
            "path": attempt.TASK_FILE_KEY,
            "fieldRef": {"fieldPath": f"metadata.annotations['{attempt.TASK_INPUT_ANNOTATION}']"},
        }
    ]
    assert [m["name"] for m in workspace["volumeMounts"]].count("task") == 0
    assert jobs.build_context(_inputs(_task())) is None
    carried = jobs.carried_task_input(job)
    assert carried == job["spec"]["template"]["metadata"]["annotations"][
        attempt.TASK_INPUT_ANNOTATION
    ]
    payload = json.loads(carried)
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


def test_no_secret_reaches_the_workspace_container() -> None:
    profile = models.AgentProfileSpec(
        image="runner:1",
        workspace_image="toolchain:2",
        env=[models.EnvVar(name="ANTHROPIC_BASE_URL", value="http://proxy"),
             models.EnvVar(name="AGENT_BACKEND", value="api"),
             models.EnvVar(name="GOFLAGS", value="-mod=mod")],
    )
    pod = _build(_task(), profile)["spec"]["template"]["spec"]
    workspace = next(c for c in pod["containers"] if c["name"] == "workspace")
    assert workspace["image"] == "toolchain:2"
    assert workspace["env"] == [{"name": "GOFLAGS", "value": "-mod=mod"},
                                {"name": "HOME", "value": "/tmp"}]
    assert "envFrom" not in workspace
    mounted = {m["name"] for m in workspace["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert all("secret" not in volumes[name] and "projected" not in volumes[name]
               for name in mounted)
    assert "task" not in mounted and "tmp" not in mounted
    assert workspace["command"][:3] == ["python3", "-I", attempt.EXECUTOR_FILE]
    install = pod["initContainers"][0]
    assert install["image"] == "runner:1" and install["command"][0] == "agent-executor"
    default = _build(_task())["spec"]["template"]["spec"]["containers"][1]
    assert default["image"] == "img"  # the runner's image unless the profile says


def test_a_long_cjk_description_and_200_dependencies_fit_in_the_task_file() -> None:
    task = _task()
    task["spec"]["description"] = "漢字かな交じり文" * (64 * 1024 // 24 + 1)  # > 64 KiB UTF-8
    assert len(task["spec"]["description"].encode()) > 64 * 1024
    inputs = _inputs(task)
    context = inputs.context.model_copy(
        update={
            "dependencies": [
                attempt.DependencyResult(task_id=f"T{i:03}", title=f"依存 {i}", summary="要約" * 100)
                for i in range(200)
            ]
        }
    )
    inputs = dataclasses.replace(inputs, context=context)
    job = jobs.build(inputs)
    config_map = jobs.build_context(inputs)
    assert config_map is not None
    assert config_map["metadata"]["name"] == job["metadata"]["name"]
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["task"]["configMap"]["name"] == job["metadata"]["name"]
    text = config_map["data"][attempt.TASK_FILE_KEY]
    assert len(text.encode()) > 128 * 1024  # more than one env var may hold
    assert len(text.encode()) < 1024 * 1024  # a ConfigMap holds 1 MiB
    assert len(json.dumps(job).encode()) < 16 * 1024  # the Job does not carry it
    assert jobs.carried_task_input(job) is None
    owned = jobs.owned_by(config_map, {"metadata": {"name": job["metadata"]["name"], "uid": "j1"}})
    assert owned["metadata"]["ownerReferences"][0] == {
        "apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"], "uid": "j1",
        "controller": True, "blockOwnerDeletion": True,
    }
    parsed, parsed_context = attempt.parse_task_input(text, source="test")
    assert parsed.spec.description == task["spec"]["description"]
    assert len(parsed_context.dependencies) == 200


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


def _status_task(name: str, uid: str, version: int, phase: str) -> dict[str, Any]:
    raw = _task(name)
    raw["metadata"].update(
        uid=uid,
        resourceVersion=str(version),
        ownerReferences=[
            {"apiVersion": models.API_VERSION, "kind": "AgentPlan", "name": "p", "uid": "pu"}
        ],
    )
    raw["spec"]["plan"] = "p"
    raw["status"] = {
        "phase": phase,
        "message": "plan 'p' is paused",
        "conditions": [
            {"type": "Routed", "status": "True", "reason": "Routed", "message": "general"},
            {"type": "Ready", "status": "False", "reason": "PlanPaused"},
        ],
    }
    return raw


def test_the_cached_task_holds_what_the_api_gave_in_a_compact_form() -> None:
    cache = store.Store()
    raws = [_status_task(f"t{i}", f"u{i}", 1, "Blocked") for i in range(2)]
    for raw in raws:
        # Strings as the API's JSON gives them: a fresh copy in every object.
        cache.apply("AgentTask", "ADDED", json.loads(json.dumps(raw)))
    first, second = (e.task for e in cache.snapshot().tasks)
    assert first == models.AgentTask.model_validate(store.slim(raws[0]))
    # The repeated strings and pydantic's field sets are held once for both tasks.
    assert first.metadata.namespace is second.metadata.namespace
    assert first.status.conditions[1].reason is second.status.conditions[1].reason
    assert first.status.__pydantic_fields_set__ is second.status.__pydantic_fields_set__
    assert first.spec.budget is second.spec.budget == models.TaskBudget()  # one default
    first_refs, second_refs = (t.metadata.model_extra or {} for t in (first, second))
    assert first_refs["ownerReferences"] == raws[0]["metadata"]["ownerReferences"]
    assert first_refs["ownerReferences"][0]["uid"] is second_refs["ownerReferences"][0]["uid"]
    # A pass's working copy is as before: its own field set and lists.
    copy = first.status.model_copy(update={"conditions": list(first.status.conditions)})
    copy.message = "changed"
    assert first.status.message == "plan 'p' is paused"
    assert copy.__pydantic_fields_set__ is not first.status.__pydantic_fields_set__


def test_a_new_version_of_a_task_shares_what_did_not_change() -> None:
    cache = store.Store()
    cache.apply("AgentTask", "ADDED", _status_task("t", "u", 1, "Blocked"))
    before = cache.snapshot().tasks[0].task
    newer = _status_task("t", "u", 2, "Queued")
    newer["status"]["conditions"][1]["status"] = "True"
    assert cache.apply("AgentTask", "MODIFIED", newer)
    after = cache.snapshot().tasks[0].task
    assert after.status.phase == "Queued" and after.status.conditions[1].status == "True"
    assert after.spec is before.spec
    assert after.status.conditions[0] is before.status.conditions[0]
    assert after.status.conditions[1] is not before.status.conditions[1]
    assert after == models.AgentTask.model_validate(store.slim(newer))
    assert before.status.phase == "Blocked"  # the version a pass may still hold is as it was


def test_a_list_is_merged_as_its_pages_arrive() -> None:
    cache = store.Store()
    cache.apply("AgentPlan", "ADDED", _raw("gone", 3, uid="g"))
    cache.apply("AgentPlan", "ADDED", _raw("newer", 9, uid="n"))
    listing = cache.listing("AgentPlan")
    assert listing.add(_raw("p", 5)) == {}  # nothing of the object is left in the list
    assert cache.raw("AgentPlan", ("ns", "p")) is not None  # merged at once
    listing.finish("8")
    assert cache.raw("AgentPlan", ("ns", "gone")) is None
    assert cache.raw("AgentPlan", ("ns", "newer")) is not None


def test_a_task_kept_parsed_only_still_says_who_it_is() -> None:
    cache = store.Store()
    cache.apply("AgentTask", "ADDED", _status_task("t", "u", 1, "Blocked"))
    assert cache.raw("AgentTask", ("ns", "t")) == {
        "metadata": {"namespace": "ns", "name": "t", "uid": "u"}
    }
    assert cache.apply("AgentTask", "DELETED", _status_task("t", "u", 2, "Blocked"))
    assert cache.count("AgentTask") == 0
