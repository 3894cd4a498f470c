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
