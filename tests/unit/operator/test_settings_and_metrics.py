"""Operator settings and the leader's gauges."""

from __future__ import annotations

import pytest
from agent_operator import settings


def test_settings_from_environment_and_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_OPERATOR_NAMESPACES", "a, b")
    monkeypatch.setenv("AGENT_OPERATOR_MAX_CONCURRENT", "7")
    config = settings.OperatorSettings()
    assert config.namespaces == ["a", "b"] and config.max_concurrent == 7
    monkeypatch.delenv("AGENT_OPERATOR_NAMESPACES")
    with pytest.raises(ValueError, match="no namespace to watch"):
        settings.OperatorSettings()
    with pytest.raises(ValueError, match="not both"):
        settings.OperatorSettings(namespaces=["a"], all_namespaces=True)


def test_a_replica_that_loses_the_lead_drops_the_leaders_gauges() -> None:
    from agent_operator import metrics

    metrics.TASKS.labels("ns", "plan", "Running").set(3)
    metrics.RUNNING.labels("ns", "general-purpose").set(3)
    metrics.CIRCUIT.labels("ns", "plan", "Open").set(1)
    metrics.clear_leader_gauges()
    exported = {s.name for m in metrics.REGISTRY.collect() for s in m.samples}
    assert "agent_operator_tasks" not in exported
    assert "agent_operator_running_agents" not in exported
    assert "agent_operator_circuit_state" not in exported


def test_every_reason_of_the_taxonomy_is_its_own_label_value() -> None:
    from agent_api import failures
    from agent_operator import metrics

    taxonomy = {
        value
        for name, value in vars(failures).items()
        if name.isupper() and isinstance(value, str) and value != failures.SUCCEEDED
    }
    assert failures.DISRUPTED in taxonomy and taxonomy >= failures.NOT_STARTED
    assert {reason: metrics.reason_label(reason) for reason in taxonomy} == {
        reason: reason for reason in taxonomy
    }
    assert metrics.reason_label("ExitCode42") == "Other"
    assert metrics.reason_label(None) == ""


def test_attempts_are_counted_by_profile_and_not_started_ones_from_zero() -> None:
    from agent_api import failures
    from agent_operator import metrics, recording, scheduling

    def attempts(reason: str, profile: str = "builder") -> float | None:
        return metrics.REGISTRY.get_sample_value(
            "agent_operator_attempts_total",
            {"namespace": "ns-rec", "profile": profile, "outcome": "Failed", "reason": reason},
        )

    running = scheduling.Decision(running_by_profile={("ns-rec", "builder"): 2})
    recording.record_pass(running)
    # Before any attempt ends unstarted, its series are there at 0, so that increase()
    # over them counts the first one.
    assert {reason: attempts(reason) for reason in failures.NOT_STARTED} == {
        reason: 0.0 for reason in failures.NOT_STARTED
    }
    assert attempts(failures.TOOL_ERROR) is None  # only the not-started reasons

    def finished(reason: str, profile: str = "builder") -> scheduling.FinishedAttempt:
        return scheduling.FinishedAttempt(
            scope=("ns-rec", "plan"), profile=profile, outcome="Failed", reason=reason,
            duration_seconds=300.0, retried=True,
        )

    ended = scheduling.Decision(
        finished=[
            finished(failures.IMAGE_PULL_FAILED),
            finished(failures.IMAGE_PULL_FAILED),
            finished(failures.DISRUPTED, profile="reviewer"),
            finished(failures.OUT_OF_MEMORY),
        ]
    )
    recording.record_pass(ended)
    assert attempts(failures.IMAGE_PULL_FAILED) == 2.0
    assert attempts(failures.UNSCHEDULABLE) == 0.0
    assert attempts(failures.DISRUPTED, profile="reviewer") == 1.0
    assert attempts(failures.OUT_OF_MEMORY) == 1.0
    assert attempts("Other") is None


def test_a_pass_counts_the_attempt_under_the_profile_that_ran_it() -> None:
    from agent_operator import metrics
    from operator_world import World, task

    def attempts(outcome: str, reason: str) -> float | None:
        return metrics.REGISTRY.get_sample_value(
            "agent_operator_attempts_total",
            {"namespace": "ns", "profile": "general-purpose", "outcome": outcome,
             "reason": reason},
        )

    before = attempts("Succeeded", "") or 0.0
    world = World(task("counted"))  # no profile in the namespace: the built-in fallback
    world.step()
    assert world.running_jobs() == ["counted-1"]
    assert attempts("Failed", "ImagePullFailed") is not None  # there, at 0 or more
    world.finish_job("counted-1")
    world.step()
    assert world.phase("counted") == "Succeeded"
    assert attempts("Succeeded", "") == before + 1
