"""Reading an attempt's end from its pod: the agent container's exit code and termination
message (the runner's report, parsed by `agent_api.report`), and the reason of a failure.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_api import failures, models

AGENT_CONTAINER = "agent"  # the runner's container in the attempt pod (jobs.CONTAINER)


@dataclasses.dataclass(frozen=True)
class PodReport:
    """The agent container's end, read from the attempt's pod."""

    exit_code: int | None  # None: no pod, or its container never ran
    message: str | None  # the termination message, raw
    pod_reason: str | None = None  # e.g. Evicted, DeadlineExceeded


def failure_reason(report: PodReport | None, result: models.TaskResult) -> str:
    """The reason of a failed attempt: the exit code's, else the report's, else the pod's."""
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
    newest = max(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
    status = newest.get("status") or {}
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
            )
    return PodReport(exit_code=None, message=None, pod_reason=status.get("reason"))
