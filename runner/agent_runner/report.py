"""The attempt's report: a small JSON document, and the process exit code that goes with it.

The report is written to the container's termination-message path, which Kubernetes caps
at 4096 bytes; the operator parses it into ``agent_api.models.TaskResult``. A report that
is cut mid-way is worse than none, so fields are shortened until the whole document fits
and the JSON itself is never truncated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import annotated_types
from agent_api import models

from agent_runner import failures

REPORT_LIMIT_BYTES: Final = 4096  # Kubernetes' termination-message limit.

EXIT_CODES: Final[dict[str, int]] = {
    "Succeeded": 0,
    failures.INTERNAL_ERROR: 1,
    failures.CONFIG_ERROR: 2,
    failures.RATE_LIMITED: 3,
    failures.OVERLOADED: 4,
    failures.TIMEOUT: 5,
    failures.MAX_TURNS: 6,
    failures.AGENT_GAVE_UP: 7,
    failures.TOOL_ERROR: 8,
}
"""Exit code per outcome; the operator may read either the code or the report's reason."""

REASON_BY_EXIT_CODE: Final[dict[int, str]] = {
    code: reason for reason, code in EXIT_CODES.items() if code != 0
}

RETRYABLE_REASONS: Final[frozenset[str]] = frozenset(
    {
        failures.RATE_LIMITED,
        failures.OVERLOADED,
        failures.TIMEOUT,
        failures.TOOL_ERROR,
        failures.INTERNAL_ERROR,
        failures.MAX_TURNS,
        failures.AGENT_GAVE_UP,
    }
)
"""Reasons a new attempt may fix. ConfigError never is: the same input fails the same way.
MaxTurns and AgentGaveUp are worth a retry because the next prompt carries the failure."""

Status = Literal["succeeded", "failed"]



def _task_result_limit(field: str) -> int:
    """A length cap of agent_api.models.TaskResult, which the operator parses the report
    into: read from the model so that the two cannot drift apart."""
    for constraint in models.TaskResult.model_fields[field].metadata:
        if isinstance(constraint, annotated_types.MaxLen):
            return int(constraint.max_length)
    raise LookupError(f"TaskResult.{field} has no max_length")


# Caps of TaskResult, applied before the size limit.
MAX_SUMMARY_CHARS: Final = _task_result_limit("summary")
MAX_FILES: Final = _task_result_limit("files_changed")
MAX_BRANCH_CHARS: Final = _task_result_limit("branch")
MAX_COMMIT_CHARS: Final = _task_result_limit("commit")
MAX_REASON_CHARS: Final = _task_result_limit("reason")
MAX_PATH_CHARS: Final = 512  # a path in filesChanged (TaskResult sets no cap of its own)
ELLIPSIS: Final = "…"


@dataclass(frozen=True)
class Report:
    """What one attempt did, in the operator's TaskResult vocabulary."""

    status: Status
    summary: str = ""
    files_changed: tuple[str, ...] = ()
    tests_passed: bool | None = None  # None: no test run was seen
    branch: str | None = None
    commit: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    reason: str | None = None  # None on success, else a failures.Reason

    @property
    def exit_code(self) -> int:
        if self.status == "succeeded":
            return 0
        return EXIT_CODES.get(self.reason or failures.INTERNAL_ERROR, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "summary": self.summary,
            "filesChanged": list(self.files_changed),
            "testsPassed": self.tests_passed,
            "branch": self.branch,
            "commit": self.commit,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "costUSD": self.cost_usd,
            "reason": self.reason,
        }


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _encode(report: Report) -> bytes:
    return json.dumps(report.as_dict(), ensure_ascii=False, separators=(",", ":")).encode()


def _capped(report: Report) -> Report:
    """Apply the per-field limits of TaskResult (the file count is handled by _with_files)."""
    return replace(
        report,
        summary=_shorten(report.summary, MAX_SUMMARY_CHARS),
        files_changed=tuple(_shorten(path, MAX_PATH_CHARS) for path in report.files_changed),
        branch=None if report.branch is None else _shorten(report.branch, MAX_BRANCH_CHARS),
        commit=None if report.commit is None else _shorten(report.commit, MAX_COMMIT_CHARS),
        reason=None if report.reason is None else _shorten(report.reason, MAX_REASON_CHARS),
        input_tokens=max(0, report.input_tokens),
        output_tokens=max(0, report.output_tokens),
        cost_usd=max(0.0, report.cost_usd),
    )


def _with_files(report: Report, files: tuple[str, ...], count: int) -> Report:
    """The first ``count`` paths, and a last entry counting the ones left out."""
    if count >= len(files):
        return replace(report, files_changed=files)
    return replace(
        report, files_changed=(*files[:count], f"{ELLIPSIS} and {len(files) - count} more")
    )


def _fit_files(report: Report, files: tuple[str, ...], limit: int) -> Report:
    """Keep as many file paths as fit."""
    low, high = 0, min(len(files), MAX_FILES - 1)
    while low < high:  # the largest count that fits
        mid = (low + high + 1) // 2
        if len(_encode(_with_files(report, files, mid))) <= limit:
            low = mid
        else:
            high = mid - 1
    candidate = _with_files(report, files, low)
    if len(_encode(candidate)) <= limit:
        return candidate
    return replace(report, files_changed=())


def _fit_summary(report: Report, limit: int) -> Report:
    """The longest prefix of the summary that fits (escapes make size non-linear)."""
    summary = report.summary
    low, high = 0, len(summary)
    while low < high:
        mid = (low + high + 1) // 2
        if len(_encode(replace(report, summary=_shorten(summary, mid)))) <= limit:
            low = mid
        else:
            high = mid - 1
    return replace(report, summary=_shorten(summary, low))


def encode_report(report: Report, limit: int = REPORT_LIMIT_BYTES) -> bytes:
    """The report as UTF-8 JSON of at most ``limit`` bytes, always parseable.

    Shortening order: the summary down to a quarter of the limit, then the file list,
    then the summary again, then the branch; counts and status are never touched.
    """
    report = _capped(report)
    files = report.files_changed
    if len(files) > MAX_FILES:
        report = _with_files(report, files, MAX_FILES - 1)
    if len(_encode(report)) <= limit:
        return _encode(report)
    report = replace(report, summary=_shorten(report.summary, limit // 4))
    if len(_encode(report)) > limit and files:
        report = _fit_files(report, files, limit)
    if len(_encode(report)) > limit:
        report = _fit_summary(report, limit)
    if len(_encode(report)) > limit and report.branch:
        report = replace(report, branch=_shorten(report.branch, 64))
    encoded = _encode(report)
    if len(encoded) > limit:  # only reachable with absurdly small limits
        raise ValueError(f"a report cannot fit in {limit} bytes")
    return encoded
