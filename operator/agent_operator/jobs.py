"""Attempt Jobs: their deterministic names, the Job manifest, and reading a Job back.

One Job per attempt, named after the task and the attempt number, so however often the
operator restarts it can never create a second Job for the same attempt: the API server
refuses the duplicate name.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from typing import Any

from agent_api import attempt as contract
from agent_api import models, names, timefmt

from agent_operator import results

MANAGED_BY = names.OPERATOR_MANAGER
CONTAINER = results.AGENT_CONTAINER
WORKSPACE_CONTAINER = results.WORKSPACE_CONTAINER
INSTALL_CONTAINER = "install-executor"
# The runner's own needs (model calls, git): the profile's resources go to the workspace
# container, where the agent's builds and tests run.
RUNNER_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"memory": "1Gi"},
}
ANNOTATION_CREATED_BY = f"{models.GROUP}/created-by"
ANNOTATION_START_TIMEOUT = f"{models.GROUP}/start-timeout-seconds"
# The attempt's allowance (USD) as it was reserved of its plan's budget, so that an attempt
# whose status write never landed still reserves it once its Job is adopted.
ANNOTATION_ALLOWANCE = f"{models.GROUP}/allowance-usd"
# Holds a finished attempt's Job and pod (whose termination message is the report) until
# the operator has recorded the result, however long the operator is away and whatever
# the Job's TTL: the operator removes it then, or when the task is gone.
RESULT_FINALIZER = f"{models.GROUP}/result"
_MAX_NAME = names.MAX_NAME
RUNNER_UID = 10001  # the runner image's user (runner/Dockerfile)
# Disk: the emptyDirs are capped (the kubelet evicts a pod past a sizeLimit), and the agent
# container asks for and is limited to ephemeral storage unless its profile says otherwise.
WORKSPACE_SIZE_LIMIT = "8Gi"
TMP_SIZE_LIMIT = "1Gi"
EPHEMERAL_STORAGE_REQUEST = "1Gi"
EPHEMERAL_STORAGE_LIMIT = "10Gi"


def job_name(task_name: str, attempt: int) -> str:
    """`<task>-<attempt>`, shortened with a hash of the task name when over 63 characters."""
    suffix = f"-{attempt}"
    name = f"{task_name}{suffix}"
    if len(name) <= _MAX_NAME:
        return name
    keep = _MAX_NAME - len(suffix) - 9
    head = task_name[:keep].rstrip("-.")
    return f"{head}-{names.short_hash(task_name)}{suffix}"


@dataclasses.dataclass(frozen=True)
class JobView:
    """What the scheduler needs to know of an attempt Job."""

    namespace: str
    name: str
    task: str  # the task object's name (label)
    attempt: int
    profile: str
    finished: str | None  # 'Complete', 'Failed' or None while it runs
    failure_reason: str | None  # the Job's Failed condition reason, e.g. DeadlineExceeded
    created: datetime.datetime | None
    completed: datetime.datetime | None
    deleting: bool
    owner_uid: str | None = None  # the controlling AgentTask's uid
    ready: int = 0  # pods ready (the agent container started)
    start_timeout_seconds: int = 300  # the profile's startTimeoutSeconds at creation
    holds_result: bool = False  # carries RESULT_FINALIZER
    allowance_usd: float | None = None  # what the attempt reserved of its plan's budget

    @property
    def started(self) -> bool:
        """The agent container has run: a pod was ready, or the Job already ended."""
        return self.ready > 0 or self.finished is not None

    @property
    def active(self) -> bool:
        """Still running and not being deleted."""
        return self.finished is None and not self.deleting


def view(raw: dict[str, Any]) -> JobView | None:
    """Reads a Job; None when it is not one of our attempt Jobs."""
    meta = raw.get("metadata") or {}
    labels = meta.get("labels") or {}
    found = names.attempt_of(labels)
    if found is None:
        return None
    task, attempt = found
    status = raw.get("status") or {}
    finished: str | None = None
    reason: str | None = None
    done_at: datetime.datetime | None = None
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "Failed"):
            finished = condition["type"]
            reason = condition.get("reason")
            done_at = timefmt.parse_time(condition.get("lastTransitionTime"))
    if finished == "Complete":
        reason = None
    completed = timefmt.parse_time(status.get("completionTime")) or done_at
    return JobView(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        task=task,
        attempt=attempt,
        profile=labels.get(models.LABEL_PROFILE, ""),
        finished=finished,
        failure_reason=reason,
        created=timefmt.parse_time(meta.get("creationTimestamp")),
        completed=completed,
        deleting=bool(meta.get("deletionTimestamp")),
        ready=_count(status.get("ready"))
        + _count(status.get("succeeded"))
        + _count(status.get("failed")),
        start_timeout_seconds=_count(
            (meta.get("annotations") or {}).get(ANNOTATION_START_TIMEOUT), default=300
        ),
        holds_result=RESULT_FINALIZER in (meta.get("finalizers") or []),
        allowance_usd=_amount((meta.get("annotations") or {}).get(ANNOTATION_ALLOWANCE)),
        owner_uid=next(
            (
                ref.get("uid")
                for ref in meta.get("ownerReferences") or []
                if ref.get("kind") == "AgentTask" and ref.get("controller")
            ),
            None,
        ),
    )


def _amount(value: object) -> float | None:
    try:
        amount = float(str(value)) if value is not None else None
    except ValueError:
        return None
    return amount if amount is not None and amount >= 0 else None


def _count(value: object, default: int = 0) -> int:
    try:
        return int(str(value)) if value is not None else default
    except ValueError:
        return default


@dataclasses.dataclass(frozen=True)
class JobInputs:
    """Everything a Job for one attempt is built from."""

    task: dict[str, Any]  # the AgentTask object as read from the API
    attempt: int
    profile_name: str
    profile: models.AgentProfileSpec
    api_key: models.SecretKeyRef
    plan_name: str
    context: contract.AttemptContext  # what the runner is told besides the task
    ttl_seconds: int
    created_by: str
    memory_factor: float = 1.0  # > 1 after out-of-memory attempts (retryMemoryFactor)

    @functools.cached_property
    def task_input(self) -> str:
        """The task input as the runner reads it, encoded once for the Job and its
        ConfigMap alike."""
        return contract.encode_task_input(self.task, self.context)


def build(inputs: JobInputs) -> dict[str, Any]:
    """The Job manifest of one attempt."""
    task = inputs.task
    meta = task["metadata"]
    spec = task["spec"]
    task_name = meta["name"]
    name = job_name(task_name, inputs.attempt)
    profile = inputs.profile
    labels = {
        models.LABEL_TASK: names.label_value(task_name),
        models.LABEL_TASK_ID: names.label_value(spec["taskId"]),
        models.LABEL_PLAN: names.label_value(inputs.plan_name),
        models.LABEL_PROFILE: names.label_value(inputs.profile_name),
        models.LABEL_ATTEMPT: str(inputs.attempt),
        models.LABEL_MANAGED_BY: MANAGED_BY,
    }
    timeout = int(spec.get("timeoutSeconds", 7200))
    task_input = inline_task_input(inputs)
    # The profile's own variables first: for a duplicate name the later entry wins, so the
    # operator's settings below always apply (the CRD also refuses reserved names).
    profile_env: list[dict[str, Any]] = [
        {"name": var.name, "value": var.value}
        for var in profile.env
        if var.name not in contract.RESERVED_ENV
    ]
    env = [
        *profile_env,
        {"name": contract.ENV_TASK_FILE, "value": contract.TASK_FILE_PATH},
        {"name": contract.ENV_EXECUTOR_SOCKET, "value": contract.EXECUTOR_SOCKET},
        {"name": contract.ENV_MODEL, "value": profile.model},
        {"name": contract.ENV_MAX_TOKENS, "value": str(profile.max_tokens)},
        {"name": contract.ENV_MAX_TURNS, "value": str(profile.max_turns)},
        {"name": contract.ENV_TIMEOUT_SECONDS, "value": str(timeout)},
        {"name": contract.ENV_AGENT_NAME, "value": inputs.profile_name},
        {"name": contract.ENV_HOME, "value": "/tmp"},
        {
            "name": contract.ENV_API_KEY,
            "valueFrom": {"secretKeyRef": {"name": inputs.api_key.name, "key": inputs.api_key.key}},
        },
    ]
    credentials = (spec.get("repository") or {}).get("credentialsSecret")
    if credentials:
        env.append(
            {
                "name": contract.ENV_GIT_TOKEN,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": credentials["name"],
                        "key": credentials.get("key", "token"),
                    }
                },
            }
        )
    hardened = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    executor_mount = {"name": "executor", "mountPath": contract.EXECUTOR_DIR}
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": profile.image,
        "command": ["agent-runner", "--workspace", "/workspace"],
        "env": env,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": dict(hardened),
        "resources": RUNNER_RESOURCES,
        "volumeMounts": [
            {"name": "workspace", "mountPath": "/workspace"},
            {"name": "tmp", "mountPath": "/tmp"},
            dict(executor_mount),
            {"name": "task", "mountPath": contract.TASK_FILE_DIR, "readOnly": True},
        ],
    }
    # Where the agent's commands run: no Secret in its env or volumes, its own /tmp, its
    # own process namespace (no shareProcessNamespace), so it cannot read, signal or trace
    # the runner. Only plain variables of the profile reach it, none of the runner's.
    workspace_env = [
        *(var for var in profile_env if not var["name"].startswith(("ANTHROPIC_", "AGENT_"))),
        {"name": contract.ENV_HOME, "value": "/tmp"},
    ]
    workspace: dict[str, Any] = {
        "name": WORKSPACE_CONTAINER,
        "image": profile.workspace_image or profile.image,
        "command": [
            "python3", "-I", contract.EXECUTOR_FILE,
            "--socket", contract.EXECUTOR_SOCKET, "--root", "/workspace",
        ],
        "workingDir": "/workspace",
        "env": workspace_env,
        "securityContext": dict(hardened),
        "volumeMounts": [
            {"name": "workspace", "mountPath": "/workspace"},
            {"name": "workspace-tmp", "mountPath": "/tmp"},
            dict(executor_mount),
        ],
    }
    install: dict[str, Any] = {
        "name": INSTALL_CONTAINER,
        "image": profile.image,
        "command": ["agent-executor", "--install", contract.EXECUTOR_FILE],
        "securityContext": dict(hardened),
        "resources": RUNNER_RESOURCES,
        "volumeMounts": [dict(executor_mount)],
    }
    resources = _scaled_memory(
        {k: dict(v) for k, v in profile.resources.to_api().items() if v}, inputs.memory_factor
    )
    # The workspace is where builds run and files grow: the profile's resources, with
    # ephemeral storage capped unless the profile sets its own.
    resources.setdefault("requests", {}).setdefault("ephemeral-storage", EPHEMERAL_STORAGE_REQUEST)
    resources.setdefault("limits", {}).setdefault("ephemeral-storage", EPHEMERAL_STORAGE_LIMIT)
    workspace["resources"] = resources
    pod_settings = profile.pod
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "shareProcessNamespace": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_UID,
            "fsGroup": RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [install],
        "containers": [container, workspace],
        "volumes": [
            {"name": "workspace", "emptyDir": {"sizeLimit": WORKSPACE_SIZE_LIMIT}},
            {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
            {"name": "workspace-tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
            {"name": "executor", "emptyDir": {"sizeLimit": "64Mi"}},
            _task_volume(name, inline=task_input is not None),
        ],
    }
    if pod_settings.node_selector:
        pod_spec["nodeSelector"] = dict(pod_settings.node_selector)
    if pod_settings.tolerations:
        pod_spec["tolerations"] = [t.to_api() for t in pod_settings.tolerations]
    if pod_settings.runtime_class_name:
        pod_spec["runtimeClassName"] = pod_settings.runtime_class_name
    if pod_settings.service_account_name:
        pod_spec["serviceAccountName"] = pod_settings.service_account_name
    if pod_settings.priority_class_name:
        pod_spec["priorityClassName"] = pod_settings.priority_class_name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": {
                ANNOTATION_CREATED_BY: inputs.created_by,
                ANNOTATION_START_TIMEOUT: str(profile.start_timeout_seconds),
                **(
                    {ANNOTATION_ALLOWANCE: str(allowance)}
                    if (allowance := inputs.context.budget.max_cost_usd) is not None
                    else {}
                ),
            },
            "finalizers": [RESULT_FINALIZER],
            "ownerReferences": [
                {
                    "apiVersion": models.API_VERSION,
                    "kind": "AgentTask",
                    "name": task_name,
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            # A pod the cluster takes away (eviction, node drain, preemption) is replaced
            # without counting as the attempt's failure.
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    }
                ]
            },
            "activeDeadlineSeconds": timeout,
            "ttlSecondsAfterFinished": inputs.ttl_seconds,
            "template": {
                "metadata": {
                    "labels": {**pod_settings.labels, **labels},
                    "annotations": {
                        **pod_settings.annotations,
                        **({contract.TASK_INPUT_ANNOTATION: task_input} if task_input else {}),
                    },
                    "finalizers": [RESULT_FINALIZER],
                },
                "spec": pod_spec,
            },
        },
    }


def inline_task_input(inputs: JobInputs) -> str | None:
    """The attempt's task input when it is small enough to travel in the pod's own
    annotation (`contract.INLINE_TASK_INPUT_MAX_BYTES`); None when it needs a ConfigMap."""
    text = inputs.task_input
    return text if len(text.encode()) <= contract.INLINE_TASK_INPUT_MAX_BYTES else None


def carried_task_input(job: dict[str, Any]) -> str | None:
    """The task input a Job carries in its pod template's annotation; None when the pod
    reads it from the Job's ConfigMap instead."""
    template = (job.get("spec") or {}).get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(contract.TASK_INPUT_ANNOTATION)
    return value if isinstance(value, str) else None


def _task_volume(job_name: str, *, inline: bool) -> dict[str, Any]:
    """The volume the runner reads its task file from: the pod's annotation through the
    downward API, or the ConfigMap `build_context` makes."""
    if inline:
        field = f"metadata.annotations['{contract.TASK_INPUT_ANNOTATION}']"
        return {
            "name": "task",
            "downwardAPI": {
                "items": [{"path": contract.TASK_FILE_KEY, "fieldRef": {"fieldPath": field}}]
            },
        }
    return {
        "name": "task",
        "configMap": {
            "name": job_name,
            "items": [{"key": contract.TASK_FILE_KEY, "path": contract.TASK_FILE_KEY}],
        },
    }


def build_context(inputs: JobInputs) -> dict[str, Any] | None:
    """The ConfigMap holding an attempt's task input too large for the pod's annotation,
    named after its Job (None when the input travels in the Job, see `build`); the actuator
    makes the Job its owner once the Job exists (`owned_by`), so it goes with the Job."""
    if inline_task_input(inputs) is not None:
        return None
    meta = inputs.task["metadata"]
    name = job_name(meta["name"], inputs.attempt)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {
                models.LABEL_TASK: names.label_value(meta["name"]),
                models.LABEL_ATTEMPT: str(inputs.attempt),
                models.LABEL_MANAGED_BY: MANAGED_BY,
            },
        },
        "immutable": True,
        "data": {contract.TASK_FILE_KEY: inputs.task_input},
    }


def owned_by(config_map: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """The ConfigMap with the created Job (which has a uid now) as its controller."""
    meta = job["metadata"]
    return {
        **config_map,
        "metadata": {
            **config_map["metadata"],
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
    }


_MEMORY_UNITS = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "": 1,
}


def _scaled_memory(resources: dict[str, Any], factor: float) -> dict[str, Any]:
    """The resources with the memory request and limit multiplied by `factor` (in Mi)."""
    if factor <= 1.0:
        return resources
    scaled = {}
    for kind, amounts in resources.items():
        amounts = dict(amounts)
        if "memory" in amounts:
            amounts["memory"] = _times(str(amounts["memory"]), factor)
        scaled[kind] = amounts
    return scaled


def _times(quantity: str, factor: float) -> str:
    number = quantity.rstrip("KMGTik")
    unit = quantity[len(number) :]
    try:
        size = float(number) * _MEMORY_UNITS[unit]
    except (ValueError, KeyError):
        return quantity  # not a plain quantity: leave it as the profile says
    return f"{max(1, round(size * factor / 2**20))}Mi"
