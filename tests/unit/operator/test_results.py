"""Reading an attempt's end from its pod."""

from __future__ import annotations

from agent_api import models
from agent_operator import results


def test_failure_reasons_come_from_exit_codes_first() -> None:
    empty = models.TaskResult()
    assert results.failure_reason(results.PodReport(2, None), empty) == "ConfigError"
    assert results.failure_reason(results.PodReport(42, None), empty) == "ExitCode42"
    tagged = models.TaskResult(reason="Overloaded")
    assert results.failure_reason(results.PodReport(None, None), tagged) == "Overloaded"
    assert results.failure_reason(None, empty) == "JobFailed"


def test_pod_report_reads_the_agent_container() -> None:
    pod = {
        "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {
            "containerStatuses": [
                {"name": "agent", "state": {"terminated": {"exitCode": 7, "message": "gave up"}}}
            ]
        },
    }
    assert results.pod_report([pod]) == results.PodReport(7, "gave up", None)
    assert results.pod_report([]) is None
