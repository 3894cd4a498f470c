"""Reading an attempt's end from its pod: the agent container's exit code and termination
message (the runner's report, parsed by `agent_api.report`), and the reason of a failure.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_api import failures, models

AGENT_CONTAINER = "agent"  # the runner's container in the attempt pod (jobs.CONTAINER)
WORKSPACE_CONTAINER = "workspace"  # where the agent's commands run (the profile's resources)


@dataclasses.dataclass(frozen=True)
class PodReport:
    """The agent container's end, read from the attempt's pod."""

    exit_code: int | None  # None: no pod, or its container never ran
    message: str | None  # the termination message, raw
    pod_reason: str | None = None  # e.g. Evicted, DeadlineExceeded
    oom_killed: bool = False  # the container was killed for exceeding its memory limit
    memory_limit: str | None = None  # the container's memory limit, as the pod spec says it
    disrupted: bool = False  # the pod carries DisruptionTarget=True (eviction, drain, ...)


def failure_reason(report: PodReport | None, result: models.TaskResult) -> str:
    """The reason of a failed attempt: the cluster's (disruption, out of memory) first,
    then the exit code's, then the report's, then the pod's."""
    if report is not None and report.disrupted:
        return failures.DISRUPTED
    if report is not None and report.oom_killed:
        return failures.OUT_OF_MEMORY
    if report is not None and report.exit_code is not None and report.exit_code != 0:
        return failures.reason_for_exit_code(report.exit_code) or (
            result.reason or f"ExitCode{report.exit_code}"
        )
    if result.reason:
        return result.reason
    if report is not None and report.pod_reason:
        return report.pod_reason
    return failures.JOB_FAILED


def pod_report(pods: list[dict[str, Any]]) -> PodReport | None:
    """The report of the newest pod of an attempt's Job (there is one: backoffLimit 0)."""
    if not pods:
        return None
    newest = _newest(pods)
    status = newest.get("status") or {}
    disrupted = any(
        c.get("type") == "DisruptionTarget" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    # The agent's builds and tests run in the workspace container: its running out of
    # memory is the attempt's too.
    workspace_oom = any(
        container.get("name") == WORKSPACE_CONTAINER
        and ((container.get("state") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
        for container in status.get("containerStatuses") or []
    )
    for container in status.get("containerStatuses") or []:
        if container.get("name") != AGENT_CONTAINER:
            continue
        terminated = (container.get("state") or {}).get("terminated") or (
            container.get("lastState") or {}
        ).get("terminated")
        if terminated:
            code = terminated.get("exitCode")
            return PodReport(
                exit_code=code if isinstance(code, int) else None,
                message=terminated.get("message"),
                pod_reason=status.get("reason"),
                oom_killed=terminated.get("reason") == "OOMKilled" or workspace_oom,
                memory_limit=_memory_limit(newest),
                disrupted=disrupted,
            )
    return PodReport(
        exit_code=None, message=None, pod_reason=status.get("reason"), disrupted=disrupted
    )


def _newest(pods: list[dict[str, Any]]) -> dict[str, Any]:
    return max(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")


def _memory_limit(pod: dict[str, Any]) -> str | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    names = {c.get("name") for c in containers}
    wanted = WORKSPACE_CONTAINER if WORKSPACE_CONTAINER in names else AGENT_CONTAINER
    for container in containers:
        if container.get("name") == wanted:
            limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
            return str(limit) if limit is not None else None
    return None


# --------------------------------------------------------------------------- not started

_IMAGE_PULL_WAITING = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
_CONFIG_WAITING = frozenset({"CreateContainerConfigError", "CreateContainerError"})


@dataclasses.dataclass(frozen=True)
class StartProblem:
    """Why an attempt's pod has not started (yet)."""

    reason: str  # a failures reason (ImagePullFailed, ContainerConfigError, ...)
    message: str


def started(pods: list[dict[str, Any]]) -> bool:
    """Whether the agent container of the attempt's newest pod has run (or runs)."""
    if not pods:
        return False
    status = _newest(pods).get("status") or {}
    for container in status.get("containerStatuses") or []:
        if container.get("name") == AGENT_CONTAINER:
            state = container.get("state") or {}
            return "running" in state or "terminated" in state
    return status.get("phase") in ("Running", "Succeeded", "Failed")


def start_problem(
    pods: list[dict[str, Any]], job_events: list[dict[str, Any]]
) -> StartProblem | None:
    """What keeps an attempt from starting, as the pod and the Job's Events say it: the
    image pull, the container's configuration (a missing Secret key), the scheduler, or
    the Job controller's FailedCreate (quota, admission). None when nothing is wrong yet."""
    if not pods:
        refused = [e for e in job_events if e.get("reason") == "FailedCreate"]
        if refused:
            newest = max(refused, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
            return StartProblem(
                failures.POD_CREATE_REFUSED,
                f"the Job could not create the pod: {newest.get('message') or 'FailedCreate'}",
            )
        return None
    pod = _newest(pods)
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        if container.get("name") != AGENT_CONTAINER:
            continue
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        detail = waiting.get("message") or reason
        if reason in _IMAGE_PULL_WAITING:
            image = container.get("image") or _image(pod)
            return StartProblem(
                failures.IMAGE_PULL_FAILED, f"{reason}: cannot pull image {image}: {detail}"
            )
        if reason in _CONFIG_WAITING:
            return StartProblem(failures.CONTAINER_CONFIG_ERROR, f"{reason}: {detail}")
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return StartProblem(
                failures.UNSCHEDULABLE,
                f"the pod cannot be scheduled: {condition.get('message') or 'Unschedulable'}",
            )
    return None


def _image(pod: dict[str, Any]) -> str:
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") == AGENT_CONTAINER:
            return str(container.get("image") or "?")
    return "?"
