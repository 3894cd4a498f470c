"""The report: always valid JSON, never over 4 KB, always accepted by TaskResult."""

from __future__ import annotations

import json

from agent_api.failures import EXIT_CODES, REASON_BY_EXIT_CODE
from agent_api.failures import RETRIED as RETRYABLE_REASONS
from agent_api.models import TaskResult
from agent_api.report import REPORT_LIMIT_BYTES, Report, encode_report
from agent_runner import failures
from hypothesis import given
from hypothesis import strategies as st

ALL_REASONS = [
    "ConfigError",
    "RateLimited",
    "Overloaded",
    "Timeout",
    "MaxTurns",
    "AgentGaveUp",
    "ToolError",
    "InternalError",
    "VerifyFailed",
    "NoWork",
    "BudgetExceeded",
]


def test_exit_codes_are_the_agreed_ones() -> None:
    assert EXIT_CODES == {
        "Succeeded": 0,
        "InternalError": 1,
        "ConfigError": 2,
        "RateLimited": 3,
        "Overloaded": 4,
        "Timeout": 5,
        "MaxTurns": 6,
        "AgentGaveUp": 7,
        "ToolError": 8,
        "VerifyFailed": 9,
        "NoWork": 10,
        "BudgetExceeded": 11,
    }
    assert set(failures.Reason.__args__) == set(ALL_REASONS)  # type: ignore[attr-defined]
    assert REASON_BY_EXIT_CODE[3] == "RateLimited"
    assert REASON_BY_EXIT_CODE[9] == "VerifyFailed" and REASON_BY_EXIT_CODE[10] == "NoWork"


def test_config_errors_are_not_worth_retrying() -> None:
    assert "ConfigError" not in RETRYABLE_REASONS
    assert "BudgetExceeded" not in RETRYABLE_REASONS  # a retry would spend past the budget
    assert set(ALL_REASONS) - {"ConfigError", "BudgetExceeded"} == RETRYABLE_REASONS


def test_a_report_knows_its_exit_code() -> None:
    assert Report(status="succeeded").exit_code == 0
    for reason in ALL_REASONS:
        assert Report(status="failed", reason=reason).exit_code == EXIT_CODES[reason]


def test_a_small_report_is_written_whole() -> None:
    report = Report(
        status="succeeded",
        summary="did it",
        files_changed=("a.py",),
        tests_passed=True,
        branch="agent/T1",
        commit="abc",
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.01,
    )

    decoded = json.loads(encode_report(report))

    assert decoded == {
        "status": "succeeded",
        "summary": "did it",
        "filesChanged": ["a.py"],
        "testsPassed": True,
        "branch": "agent/T1",
        "commit": "abc",
        "inputTokens": 10,
        "outputTokens": 5,
        "costUSD": 0.01,
        "reason": None,
    }


def test_many_files_are_cut_with_a_count_of_the_rest() -> None:
    files = tuple(f"src/module_{n:05}/implementation.py" for n in range(2000))
    report = Report(status="succeeded", summary="s" * 3000, files_changed=files)

    encoded = encode_report(report)
    decoded = json.loads(encoded)

    assert len(encoded) <= REPORT_LIMIT_BYTES
    kept = decoded["filesChanged"][:-1]
    assert kept == list(files[: len(kept)]) and len(kept) > 10
    assert decoded["filesChanged"][-1] == f"… and {2000 - len(kept)} more"
    assert decoded["summary"].startswith("sss") and decoded["summary"].endswith("…")


@given(
    summary=st.text(max_size=20000),
    files=st.lists(st.text(min_size=1, max_size=600), max_size=700),
    branch=st.one_of(st.none(), st.text(max_size=400)),
    commit=st.one_of(st.none(), st.text(max_size=100)),
    tokens=st.integers(min_value=0, max_value=10**12),
    failed=st.sampled_from([None, *ALL_REASONS]),
    tests=st.sampled_from([None, True, False]),
)
def test_any_report_fits_and_parses(
    summary: str,
    files: list[str],
    branch: str | None,
    commit: str | None,
    tokens: int,
    failed: str | None,
    tests: bool | None,
) -> None:
    report = Report(
        status="succeeded" if failed is None else "failed",
        summary=summary,
        files_changed=tuple(files),
        tests_passed=tests,
        branch=branch,
        commit=commit,
        input_tokens=tokens,
        output_tokens=tokens,
        cost_usd=tokens / 1e6,
        reason=failed,
    )

    encoded = encode_report(report)

    assert len(encoded) <= REPORT_LIMIT_BYTES
    decoded = json.loads(encoded)
    result = TaskResult.model_validate(decoded)
    # What matters to the operator is never shortened.
    assert decoded["status"] == report.status and decoded["reason"] == failed
    assert result.input_tokens == tokens and result.tests_passed == tests
    assert summary.startswith(decoded["summary"].removesuffix("…"))
