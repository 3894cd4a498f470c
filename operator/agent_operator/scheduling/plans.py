"""Plans: each scope's circuit breaker, the plan's status (spend and BudgetExhausted
included), the budget figures for the metrics, and each task's ownerReference to its
plan."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping

from agent_api import failures, models, timefmt

from agent_operator import circuit, conditions
from agent_operator.scheduling import budgets, events
from agent_operator.scheduling.decisions import Decision
from agent_operator.scheduling.progress import TaskProgress
from agent_operator.scheduling.snapshot import Config, PlanScope, Snapshot, plan_spec_of


def circuits(
    tasks: list[TaskProgress],
    snapshot: Snapshot,
    config: Config,
    now: datetime.datetime,
    decision: Decision,
) -> dict[PlanScope, models.CircuitStatus]:
    """Every scope's breaker after the attempts recorded so far (see agent_operator.circuit).
    A scope without an AgentPlan object keeps its breaker in memory (`decision.circuits`)."""
    outcomes: dict[PlanScope, list[circuit.Outcome]] = defaultdict(list)
    scopes: set[PlanScope] = set(snapshot.plans)
    for task in tasks:
        scopes.add(task.scope)
        for record in task.status.history:
            if record.reason in failures.NOT_THE_AGENTS:
                continue  # the cluster's failures do not open a plan's breaker
            if record.outcome in ("Succeeded", "Failed"):
                done_at = timefmt.parse_time(record.completion_time)
                if done_at is not None:
                    outcomes[task.scope].append(
                        circuit.Outcome(completed=done_at, failed=record.outcome == "Failed")
                    )
    states: dict[PlanScope, models.CircuitStatus] = {}
    for scope in scopes:
        entry = snapshot.plans.get(scope)
        previous = (
            entry.plan.status.circuit
            if entry is not None
            else snapshot.circuits.get(scope, models.CircuitStatus())
        )
        policy = plan_spec_of(snapshot, scope, config).circuit_breaker
        state = circuit.next_state(previous, outcomes[scope], policy=policy, now=now)
        states[scope] = state
        if entry is None:
            decision.circuits[scope] = state
        retry = timefmt.parse_time(state.retry_time)
        if state.state == "Open" and retry is not None:
            decision.wake_at(retry)
        if state.state != previous.state and entry is not None:
            decision.events.append(events.circuit_change(scope, entry, state))
    return states


def owner_references(tasks: Iterable[TaskProgress], snapshot: Snapshot, decision: Decision) -> None:
    """Each task of an existing plan gets a (non-controller) ownerReference to it."""
    for task in tasks:
        if not task.spec.plan:
            continue
        entry = snapshot.plans.get((task.namespace, task.spec.plan))
        if entry is None:
            continue
        existing = [dict(ref) for ref in (task.meta.model_extra or {}).get("ownerReferences") or []]
        if any(ref.get("uid") == entry.uid for ref in existing):
            continue
        existing.append(
            {
                "apiVersion": models.API_VERSION,
                "kind": "AgentPlan",
                "name": task.spec.plan,
                "uid": entry.uid,
                "blockOwnerDeletion": False,
            }
        )
        decision.owner_refs[task.entry.key] = existing


def budget_figures(
    tasks: list[TaskProgress],
    snapshot: Snapshot,
    config: Config,
    ledgers: Mapping[PlanScope, budgets.Ledger],
    decision: Decision,
) -> None:
    """(limit, recorded, reserved) per window of every scope with a budget, for the
    metrics: the plans' and those of the tasks without a plan (the default plan's budget)."""
    scopes = set(snapshot.plans) | {task.scope for task in tasks}
    for scope in scopes:
        plan_budget = plan_spec_of(snapshot, scope, config).budget
        ledger = ledgers.get(scope) or budgets.Ledger()
        for window, figures in budgets.figures(ledger, plan_budget).items():
            decision.budgets[(scope, window)] = figures


def plan_statuses(
    tasks: list[TaskProgress],
    snapshot: Snapshot,
    states: dict[PlanScope, models.CircuitStatus],
    ledgers: Mapping[PlanScope, budgets.Ledger],
    decision: Decision,
    now: datetime.datetime,
) -> None:
    """Counts, progress, breaker, spend and conditions of every AgentPlan."""
    members: dict[PlanScope, list[TaskProgress]] = defaultdict(list)
    for task in tasks:
        members[task.scope].append(task)
    for scope, entry in snapshot.plans.items():
        plan = entry.plan
        counts = models.PhaseCounts()
        for task in members.get(scope, []):
            phase = models.phase_key(task.status.phase or "Pending")
            setattr(counts, phase, getattr(counts, phase) + 1)
        total = len(members.get(scope, []))
        state = states.get(scope, models.CircuitStatus())
        status = plan.status.model_copy(deep=True)
        status.counts = counts
        status.total = total
        status.progress = f"{counts.succeeded}/{total}"
        status.running = counts.running
        status.failed = counts.failed
        status.circuit = state
        status.observed_generation = plan.metadata.generation
        status.conditions = _plan_conditions(status.conditions, state, counts, total, plan, now)
        ledger = ledgers.get(scope) or budgets.Ledger()
        status.spend = budgets.plan_spend(ledger, plan.spec.budget, now)
        exhausted, reason, message = budgets.plan_condition(ledger, plan.spec.budget, now)
        status.conditions = conditions.set_condition(
            status.conditions,
            type=conditions.BUDGET_EXHAUSTED,
            status=exhausted,
            reason=reason,
            message=message,
            generation=plan.metadata.generation,
            now=now,
        )
        decision.plan_statuses[scope] = status


def _plan_conditions(
    current: list[models.Condition],
    state: models.CircuitStatus,
    counts: models.PhaseCounts,
    total: int,
    plan: models.AgentPlan,
    now: datetime.datetime,
) -> list[models.Condition]:
    gen = plan.metadata.generation
    if state.state == "Closed":
        current = conditions.set_condition(
            current,
            type=conditions.CIRCUIT_OPEN,
            status="False",
            reason="Closed",
            message=f"{state.consecutive_failures} failed attempts in a row",
            generation=gen,
            now=now,
        )
    else:
        current = conditions.set_condition(
            current,
            type=conditions.CIRCUIT_OPEN,
            status="True",
            reason=state.state,
            message=(
                f"opened at {state.opened_time} after {state.consecutive_failures} failed "
                f"attempts in a row; trial attempt from {state.retry_time}"
            ),
            generation=gen,
            now=now,
        )
    complete = total > 0 and counts.succeeded == total
    return conditions.set_condition(
        current,
        type=conditions.COMPLETE,
        status="True" if complete else "False",
        reason="AllSucceeded" if complete else "InProgress",
        message=f"{counts.succeeded} of {total} tasks succeeded",
        generation=gen,
        now=now,
    )
