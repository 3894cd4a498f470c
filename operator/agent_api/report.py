"""The attempt's report: the JSON document the runner leaves in the pod's termination
message, with the one encoder (the runner's) and the one parser (the operator's).

Kubernetes caps a termination message at 4096 bytes. A report cut mid-way is worse than
none, so the encoder shortens fields until the whole document fits and never truncates the
JSON itself. The parser is lenient: a missing or malformed report never fails the operator,
a bad field is dropped and the raw text becomes the summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from agent_api import failures, limits, models

REPORT_LIMIT_BYTES: Final = 4096  # Kubernetes' termination-message limit.
NO_REPORT: Final = "no report: the agent wrote no termination message"

# Caps of TaskResult, which the report is parsed into.
MAX_SUMMARY_CHARS: Final = limits.max_length(models.TaskResult, "summary")
MAX_FILES: Final = limits.max_length(models.TaskResult, "files_changed")
MAX_BRANCH_CHARS: Final = limits.max_length(models.TaskResult, "branch")
MAX_COMMIT_CHARS: Final = limits.max_length(models.TaskResult, "commit")
MAX_REASON_CHARS: Final = limits.max_length(models.TaskResult, "reason")
MAX_STATUS_CHARS: Final = limits.max_length(models.TaskResult, "status")
MAX_PR_URL_CHARS: Final = limits.max_length(models.TaskResult, "pr_url")
MAX_PATH_CHARS: Final = 512  # a path in filesChanged (TaskResult sets no cap of its own)
ELLIPSIS: Final = "…"

Status = Literal["succeeded", "failed"]


@dataclass(frozen=True)
class Report:
    """What one attempt did, in the TaskResult vocabulary."""

    status: Status
    summary: str = ""
    files_changed: tuple[str, ...] = ()
    tests_passed: bool | None = None  # None: no test run was seen
    branch: str | None = None
    commit: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    reason: str | None = None  # None on success, else a failures reason
    pr_url: str | None = None  # the task's pull request, opened or updated by this attempt
    pr_number: int | None = None

    @property
    def exit_code(self) -> int:
        if self.status == "succeeded":
            return 0
        return failures.EXIT_CODES.get(self.reason or failures.INTERNAL_ERROR, 1)

    def as_dict(self) -> dict[str, Any]:
        pull = {"prUrl": self.pr_url, "prNumber": self.pr_number} if self.pr_url else {}
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
            **pull,
        }


# --------------------------------------------------------------------------- encoding


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
        # a shortened URL is a wrong one: dropped instead
        pr_url=report.pr_url if report.pr_url and len(report.pr_url) <= 512 else None,
        pr_number=report.pr_number if report.pr_number and report.pr_number > 0 else None,
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


# --------------------------------------------------------------------------- parsing


def parse_report(message: str | None) -> models.TaskResult:
    """Turns a termination message into a TaskResult; never raises."""
    if message is None or not message.strip():
        return models.TaskResult(summary=NO_REPORT)
    try:
        data = json.loads(message)
    except ValueError:
        return models.TaskResult(summary=message.strip()[:MAX_SUMMARY_CHARS])
    if not isinstance(data, dict):
        return models.TaskResult(summary=message.strip()[:MAX_SUMMARY_CHARS])
    return _from_mapping(data, raw=message)


_TEXT_FIELDS: Final = {
    "status": ("status", MAX_STATUS_CHARS),
    "summary": ("summary", MAX_SUMMARY_CHARS),
    "branch": ("branch", MAX_BRANCH_CHARS),
    "commit": ("commit", MAX_COMMIT_CHARS),
    "reason": ("reason", MAX_REASON_CHARS),
}


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _from_mapping(data: dict[str, Any], *, raw: str) -> models.TaskResult:
    """Keeps each well-formed field; a bad field is dropped rather than failing the rest."""
    fields: dict[str, Any] = {}
    for key, (attr, limit) in _TEXT_FIELDS.items():
        value = data.get(key)
        if isinstance(value, str):
            fields[attr] = value[:limit]
    files = data.get("filesChanged")
    if isinstance(files, list):
        fields["files_changed"] = [str(f)[:MAX_PATH_CHARS] for f in files[:MAX_FILES]]
    tests = data.get("testsPassed")
    if isinstance(tests, bool):
        fields["tests_passed"] = tests
    for key, attr in (("inputTokens", "input_tokens"), ("outputTokens", "output_tokens")):
        count = _count(data.get(key))
        if count is not None:
            fields[attr] = count
    url = data.get("prUrl")
    if isinstance(url, str) and 0 < len(url) <= MAX_PR_URL_CHARS:
        fields["pr_url"] = url
    number = _count(data.get("prNumber"))
    if number:
        fields["pr_number"] = number
    cost = data.get("costUSD")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        fields["cost_usd"] = float(cost)
    if "summary" not in fields:
        fields["summary"] = raw.strip()[:MAX_SUMMARY_CHARS]
    return models.TaskResult(**fields)
