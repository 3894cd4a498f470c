"""The small pure modules: graph, routing, backoff, circuit, results, conditions, patches,
leadership, settings."""

from __future__ import annotations

import datetime
import json

import pytest
from agent_api import models
from agent_operator import (
    backoff,
    circuit,
    clock,
    conditions,
    graph,
    leadership,
    patches,
    results,
    routing,
    settings,
)
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


# --------------------------------------------------------------------------- graph


def test_cycles_name_every_member_and_ignore_missing_and_acyclic_nodes() -> None:
    edges = {"A": ["B"], "B": ["C"], "C": ["A"], "D": ["A", "MISSING"], "E": ["E"], "F": []}
    found = graph.cycles(edges)
    assert found == {"A": ("A", "B", "C"), "B": ("A", "B", "C"), "C": ("A", "B", "C"), "E": ("E",)}


def test_a_long_chain_does_not_exhaust_the_stack() -> None:
    edges = {f"T{i}": [f"T{i + 1}"] for i in range(20000)}
    edges["T20000"] = ["T0"]
    assert len(graph.cycles(edges)) == 20001


@given(st.dictionaries(st.integers(0, 12), st.lists(st.integers(0, 12), max_size=4), max_size=12))
def test_cycle_members_are_exactly_the_nodes_that_reach_themselves(
    raw: dict[int, list[int]],
) -> None:
    edges = {str(k): [str(v) for v in vs] for k, vs in raw.items()}

    def reaches_itself(start: str) -> bool:
        seen, todo = set(), [d for d in edges[start] if d in edges]
        while todo:
            node = todo.pop()
            if node == start:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(d for d in edges[node] if d in edges)
        return False

    found = graph.cycles(edges)
    assert set(found) == {n for n in edges if reaches_itself(n)}


# --------------------------------------------------------------------------- routing


def _profile(name: str, match: str | None, order: int = 100) -> models.AgentProfile:
    return models.AgentProfile(metadata={"name": name}, spec={"match": match, "order": order})


def test_routing_order_case_and_invalid_rules() -> None:
    profiles = routing.ordered(
        [_profile("b", "deploy", 10), _profile("a", "DEPLOY", 10), _profile("bad", "(", 1)]
    )
    spec = models.AgentTaskSpec(task_id="T1", title="Deploy it")
    chosen = routing.route(spec, profiles, fallback="general-purpose", default_image="img")
    assert chosen.profile_name == "a"  # same order: by name
    assert chosen.invalid_rules == ("bad",)
    other = models.AgentTaskSpec(task_id="T1", title="x", description="nothing to see")
    fallback = routing.route(other, profiles, fallback="general-purpose", default_image="img")
    assert fallback.builtin and fallback.spec is not None and fallback.spec.image == "img"
    named = models.AgentTaskSpec(task_id="T1", title="Deploy", agent_profile="b")
    assert routing.route(named, profiles, fallback="gp", default_image="i").profile_name == "b"


# --------------------------------------------------------------------------- backoff, circuit


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [
        backoff.retry_delay_seconds(failed_attempts=n, base_seconds=2, cap_seconds=20)
        for n in range(1, 7)
    ]
    assert delays == [2, 4, 8, 16, 20, 20]
    assert backoff.retry_delay_seconds(failed_attempts=500, base_seconds=2, cap_seconds=9) == 9


def test_circuit_counts_failures_since_the_last_success() -> None:
    outcomes = [
        circuit.Outcome(T0 + datetime.timedelta(seconds=s), failed)
        for s, failed in [(1, True), (2, False), (3, True), (5, True), (4, True)]
    ]
    assert circuit.consecutive_failures(outcomes)[0] == 3


def test_circuit_survives_ten_failures_in_a_row_and_recovers() -> None:
    policy = models.CircuitBreakerPolicy(consecutive_failures=5, cooldown_seconds=60)
    state = models.CircuitStatus()
    outcomes: list[circuit.Outcome] = []
    now = T0
    for i in range(10):
        now = T0 + datetime.timedelta(seconds=i)
        outcomes.append(circuit.Outcome(now, True))
        state = circuit.next_state(state, outcomes, policy=policy, now=now)
        assert state.state == ("Open" if i >= 4 else "Closed")
    now += datetime.timedelta(seconds=61)
    state = circuit.next_state(state, outcomes, policy=policy, now=now)
    assert state.state == "HalfOpen"
    outcomes.append(circuit.Outcome(now + datetime.timedelta(seconds=1), True))
    state = circuit.next_state(
        state, outcomes, policy=policy, now=now + datetime.timedelta(seconds=2)
    )
    assert state.state == "Open"  # the trial failed: another cool-down
    later = now + datetime.timedelta(seconds=200)
    state = circuit.next_state(state, outcomes, policy=policy, now=later)
    assert state.state == "HalfOpen"
    outcomes.append(circuit.Outcome(later + datetime.timedelta(seconds=1), False))
    state = circuit.next_state(
        state, outcomes, policy=policy, now=later + datetime.timedelta(seconds=2)
    )
    assert state.state == "Closed" and state.consecutive_failures == 0


# --------------------------------------------------------------------------- results


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
    parsed = results.parse_report(json.dumps(report))
    assert parsed.summary == "ok" and parsed.files_changed == ["a"] and parsed.tests_passed
    assert parsed.input_tokens == 3 and parsed.output_tokens == 0 and parsed.cost_usd == 0
    assert results.parse_report("[1,2]").summary == "[1,2]"
    assert results.parse_report('{"status":"x"}').summary == '{"status":"x"}'
    assert results.parse_report("").summary == results.NO_REPORT


@given(st.text(max_size=300))
def test_any_termination_message_parses(text: str) -> None:
    results.parse_report(text)


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


# --------------------------------------------------------------------------- conditions, patches


def test_condition_keeps_transition_time_unless_status_flips() -> None:
    first = conditions.set_condition(
        [], type="Ready", status="False", reason="A", message="", generation=1, now=T0
    )
    later = T0 + datetime.timedelta(seconds=5)
    same = conditions.set_condition(
        first, type="Ready", status="False", reason="B", message="m", generation=2, now=later
    )
    assert same[0].last_transition_time == clock.format_time(T0)
    assert same[0].observed_generation == 2 and same[0].reason == "B"
    flipped = conditions.set_condition(
        same, type="Ready", status="True", reason="C", message="", generation=2, now=later
    )
    assert flipped[0].last_transition_time == clock.format_time(later)


def test_merge_patch_removes_nested_keys() -> None:
    old = {"a": 1, "result": {"reason": "X", "summary": "s"}, "gone": True}
    new = {"a": 1, "result": {"summary": "t"}}
    assert patches.merge_patch(old, new) == {
        "result": {"reason": None, "summary": "t"},
        "gone": None,
    }
    assert patches.merge_patch(new, new) == {}


# --------------------------------------------------------------------------- leadership, settings


def test_leadership_needs_the_highest_live_priority() -> None:
    fresh = clock.format_time(T0)
    stale = clock.format_time(T0 - datetime.timedelta(seconds=120))
    peering = {
        "status": {
            "me": {"priority": 5, "lifetime": 10, "lastseen": fresh},
            "dead": {"priority": 9, "lifetime": 10, "lastseen": stale},
            "low": {"priority": 1, "lifetime": 10, "lastseen": fresh},
        }
    }
    assert leadership.leads(peering, identity="me", priority=5, now=T0)
    peering["status"]["high"] = {"priority": 7, "lifetime": 10, "lastseen": fresh}
    assert not leadership.leads(peering, identity="me", priority=5, now=T0)
    assert not leadership.leads(None, identity="me", priority=5, now=T0)
    assert not leadership.leads({"status": {}}, identity="me", priority=5, now=T0)


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
