"""Retry backoff and the per-plan circuit breaker."""

from __future__ import annotations

import datetime

from agent_api import models
from agent_operator import backoff, circuit

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


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
