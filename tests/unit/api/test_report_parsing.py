"""The operator's lenient parser of the runner's report."""

from __future__ import annotations

import json

from agent_api import report as reports
from hypothesis import given
from hypothesis import strategies as st


def test_reports_parse_and_bad_fields_are_dropped_not_fatal() -> None:
    report = {
        "status": "succeeded",
        "summary": "ok",
        "filesChanged": ["a"],
        "testsPassed": True,
        "inputTokens": 3,
        "outputTokens": -1,
        "costUSD": "x",
        "commit": "abc",
    }
    parsed = reports.parse_report(json.dumps(report))
    assert parsed.summary == "ok" and parsed.files_changed == ["a"] and parsed.tests_passed
    assert parsed.input_tokens == 3 and parsed.output_tokens == 0 and parsed.cost_usd == 0
    assert reports.parse_report("[1,2]").summary == "[1,2]"
    assert reports.parse_report('{"status":"x"}').summary == '{"status":"x"}'
    assert reports.parse_report("").summary == reports.NO_REPORT


@given(st.text(max_size=300))
def test_any_termination_message_parses(text: str) -> None:
    reports.parse_report(text)
