"""What an attempt produced: the runner's report in the pod's termination message.

The runner writes a JSON object (at most 4 KB) to /dev/termination-log and exits with a
code naming the failure. A missing or malformed report never fails the operator: the raw
text becomes the summary.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from agent_api import models
from agent_runner import report as runner_report

NO_REPORT = "no report: the agent wrote no termination message"

# The runner's exit codes (runner/agent_runner) and the reasons they stand for.
# The runner's own table (agent_runner.report), so the two can never disagree.
EXIT_REASONS: dict[int, str] = {
    code: reason for reason, code in runner_report.EXIT_CODES.items()
}
# A configuration error will fail the same way on every retry: the task fails at once.
NOT_RETRIED = (
    frozenset(runner_report.EXIT_CODES) - runner_report.RETRYABLE_REASONS - {"Succeeded"}
)

_SUMMARY_LIMIT = 8192


@dataclasses.dataclass(frozen=True)
class PodReport:
    """The agent container's end, read from the attempt's pod."""

    exit_code: int | None  # None: no pod, or its container never ran
    message: str | None  # the termination message, raw
    pod_reason: str | None = None  # e.g. Evicted, DeadlineExceeded


def parse_report(message: str | None) -> models.TaskResult:
    """Turns a termination message into a TaskResult; never raises."""
    if message is None or not message.strip():
        return models.TaskResult(summary=NO_REPORT)
    try:
        data = json.loads(message)
    except ValueError:
        return models.TaskResult(summary=message.strip()[:_SUMMARY_LIMIT])
    if not isinstance(data, dict):
        return models.TaskResult(summary=message.strip()[:_SUMMARY_LIMIT])
    return _from_mapping(data, raw=message)


def _from_mapping(data: dict[str, Any], *, raw: str) -> models.TaskResult:
    """Keeps each well-formed field; a bad field is dropped rather than failing the rest."""
    fields: dict[str, Any] = {}
    candidates = {
        "status": (str, 64),
        "summary": (str, _SUMMARY_LIMIT),
        "branch": (str, 255),
        "commit": (str, 64),
        "reason": (str, 256),
    }
    for key, (kind, limit) in candidates.items():
        value = data.get(key)
        if isinstance(value, kind):
            fields[key] = value[:limit]
    files = data.get("filesChanged")
    if isinstance(files, list):
        fields["files_changed"] = [str(f) for f in files[:512]]
    tests = data.get("testsPassed")
    if isinstance(tests, bool):
        fields["tests_passed"] = tests
    for key, attr in (("inputTokens", "input_tokens"), ("outputTokens", "output_tokens")):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            fields[attr] = value
    cost = data.get("costUSD")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        fields["cost_usd"] = float(cost)
    if "summary" not in fields:
        fields["summary"] = raw.strip()[:_SUMMARY_LIMIT]
    return models.TaskResult(**fields)


def failure_reason(report: PodReport | None, result: models.TaskResult) -> str:
    """The reason of a failed attempt: the exit code's, else the report's, else the pod's."""
    if report is not None and report.exit_code is not None and report.exit_code != 0:
        return EXIT_REASONS.get(report.exit_code, result.reason or f"ExitCode{report.exit_code}")
    if result.reason:
        return result.reason
    if report is not None and report.pod_reason:
        return report.pod_reason
    return "JobFailed"


def pod_report(pods: list[dict[str, Any]]) -> PodReport | None:
    """The report of the newest pod of an attempt's Job (there is one: backoffLimit 0)."""
    if not pods:
        return None
    newest = max(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
    status = newest.get("status") or {}
    for container in status.get("containerStatuses") or []:
        if container.get("name") != "agent":
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
