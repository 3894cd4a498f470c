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


def _pod(**status: object) -> dict[str, object]:
    return {
        "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "containers": [
                {
                    "name": "agent",
                    "image": "reg/runner:1",
                    "resources": {"limits": {"memory": "2Gi"}},
                }
            ]
        },
        "status": status,
    }


def test_an_oom_kill_and_a_disruption_are_the_clusters_reasons() -> None:
    oom = _pod(
        containerStatuses=[
            {"name": "agent", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}
        ]
    )
    report = results.pod_report([oom])
    assert report is not None and report.oom_killed and report.memory_limit == "2Gi"
    assert results.failure_reason(report, models.TaskResult()) == "OutOfMemory"
    evicted = _pod(
        conditions=[
            {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
        ],
        containerStatuses=[{"name": "agent", "state": {"terminated": {"exitCode": 137}}}],
    )
    report = results.pod_report([evicted])
    assert report is not None and report.disrupted
    assert results.failure_reason(report, models.TaskResult()) == "Disrupted"


def test_why_a_pod_does_not_start() -> None:
    pulling = _pod(
        containerStatuses=[
            {
                "name": "agent",
                "image": "reg/runner:1",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling"}},
            }
        ]
    )
    problem = results.start_problem([pulling], [])
    assert problem is not None and problem.reason == "ImagePullFailed"
    assert "reg/runner:1" in problem.message
    config = _pod(
        containerStatuses=[
            {
                "name": "agent",
                "state": {
                    "waiting": {
                        "reason": "CreateContainerConfigError",
                        "message": "couldn't find key token in Secret ns/git",
                    }
                },
            }
        ]
    )
    problem = results.start_problem([config], [])
    assert problem is not None and problem.reason == "ContainerConfigError"
    assert "key token" in problem.message
    pending = _pod(
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes",
            }
        ]
    )
    problem = results.start_problem([pending], [])
    assert problem is not None and problem.reason == "Unschedulable" and "0/3" in problem.message
    refused = results.start_problem(
        [], [{"reason": "FailedCreate", "message": 'pods "x" is forbidden: exceeded quota'}]
    )
    assert refused is not None and refused.reason == "PodCreateRefused"
    assert "exceeded quota" in refused.message
    assert results.start_problem([], []) is None
    assert results.start_problem([_pod(phase="Running")], []) is None
