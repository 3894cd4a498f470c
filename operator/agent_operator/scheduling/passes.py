"""One scheduling pass: `decide`, composed of the concerns of this package.

1. attempts: each task's attempt records are reconciled with its Jobs;
2. settling: done, finished and rerun tasks are settled, and tasks awaiting the review
   of their pull request follow what the forge says of it (reviews);
3. readiness: every other task is routed (from the route cache, or by matching the rules
   within the pass's time budget) and checked (suspended, plan missing, plan paused,
   cycle, dependencies, gates, profile, the profile's limits, URLs, Secrets, budget), then
   its retry backoff;
4. capacity: the global cap is shared fairly among the namespaces with ready work (each
   free slot goes to the namespace with the fewest running attempts per unit of weight);
   within a namespace ready tasks start P0 first, then oldest, within the plan and profile
   caps, the plan's circuit breaker and the budgets (each attempt started reserves its
   allowance of its plan's budget);
5. plans and events: plan statuses, profiles' RuleValid and Ready conditions, ownerReferences,
   Events, counts for the metrics.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable

from agent_api import graph, models, timefmt

from agent_operator import routing
from agent_operator.scheduling import (
    attempts,
    budgets,
    capacity,
    events,
    plans,
    profiles,
    readiness,
    reasons,
    reviews,
    settling,
    starting,
)
from agent_operator.scheduling.decisions import Decision
from agent_operator.scheduling.progress import DependencyScope, TaskProgress, working_copy
from agent_operator.scheduling.snapshot import (
    Config,
    PlanScope,
    Snapshot,
    plan_label,
    plan_spec_of,
    scope_of,
    task_jobs,
)


def decide(
    snapshot: Snapshot,
    config: Config,
    now: datetime.datetime,
    *,
    routes: routing.RouteCache | None = None,
    out_of_time: Callable[[], bool] | None = None,
) -> Decision:
    """The whole pass, a pure function of its inputs (and of the route cache, which only
    saves work): see the module docstring. `out_of_time` says when the pass's time budget
    is spent: tasks whose route is not cached by then wait for the next pass, which is
    asked for at once."""
    decision = Decision()
    router = profiles.Router(snapshot, config, routes, out_of_time)
    specs: dict[PlanScope, models.AgentPlanSpec] = {}  # one per scope, as a plan's own is
    tasks = [
        TaskProgress(
            entry=e,
            status=working_copy(e.task.status),
            jobs=task_jobs(snapshot, e.task),
            plan_spec=_spec(specs, snapshot, scope_of(e.task), config),
            plan_found=not e.task.spec.plan
            or (e.task.metadata.namespace or "", e.task.spec.plan) in snapshot.plans,
        )
        for e in snapshot.tasks
    ]
    for task in tasks:
        attempts.reconcile(task, snapshot, decision, now)
        settling.settle(task, now)
        reviews.follow(task, snapshot, decision, now)

    inputs = _readiness_inputs(tasks, snapshot, config, now)
    states = plans.circuits(tasks, snapshot, config, now, decision)
    ready = [
        (task, route)
        for task in tasks
        if not (task.terminal or task.running)
        and (route := _ready_route(task, snapshot, config, router, inputs, decision, now))
        is not None
    ]
    if router.deferred:
        decision.deferred = router.deferred
        decision.wake_at(now)
    slots = capacity.Capacity.counting(tasks, max_concurrent=config.max_concurrent, circuits=states)
    for task, route in capacity.fair_order(ready, slots, dict(config.namespace_weights)):
        decision.queue.append(task.entry.key)
        _start_or_queue(task, route, slots, inputs, config, decision, now)
    profiles.profile_conditions(snapshot, config, decision, now)

    attempts.releases(tasks, snapshot, decision)
    plans.owner_references(tasks, snapshot, decision)
    plans.plan_statuses(tasks, snapshot, states, inputs.ledgers, decision, now)
    plans.budget_figures(tasks, snapshot, config, inputs.ledgers, decision)
    for task in tasks:
        if task.status != task.entry.task.status:
            decision.statuses[task.entry.key] = task.status
        event = events.task_transition(task)
        if event is not None:
            decision.events.append(event)
        count_key = (task.namespace, plan_label(task.spec.plan), task.status.phase or "Pending")
        decision.phase_counts[count_key] = decision.phase_counts.get(count_key, 0) + 1
    decision.running_by_profile = dict(slots.by_profile)
    return decision


def _spec(
    specs: dict[PlanScope, models.AgentPlanSpec],
    snapshot: Snapshot,
    scope: PlanScope,
    config: Config,
) -> models.AgentPlanSpec:
    """The scope's settings, built once per pass (the defaults are a model to validate)."""
    found = specs.get(scope)
    if found is None:
        found = specs[scope] = plan_spec_of(snapshot, scope, config)
    return found


def _readiness_inputs(
    tasks: list[TaskProgress], snapshot: Snapshot, config: Config, now: datetime.datetime
) -> readiness.Inputs:
    members: dict[DependencyScope, dict[str, TaskProgress]] = defaultdict(dict)
    for task in tasks:
        members[task.dependency_scope].setdefault(task.spec.task_id, task)
    cycles = {
        scope: graph.cycles(
            {tid: list(t.spec.depends_on) for tid, t in group.items() if not t.succeeded}
        )
        for scope, group in members.items()
    }
    return readiness.Inputs(
        members=members,
        cycles=cycles,
        secrets=snapshot.secrets,
        default_plan=config.default_plan,
        policy=config.policy,
        ledgers=budgets.ledgers(tasks, now),
        now=now,
    )


def _ready_route(
    task: TaskProgress,
    snapshot: Snapshot,
    config: Config,
    router: profiles.Router,
    inputs: readiness.Inputs,
    decision: Decision,
    now: datetime.datetime,
) -> routing.Route | None:
    """The task's route when it is ready to start now; None when it is blocked or backing off
    (its status then says why), or when it could not be routed within the time budget."""
    route = profiles.route_task(task, snapshot, config, now, router)
    if route is None:
        return None
    block = readiness.first_block(task, route, inputs)
    if block is not None:
        readiness.show_block(task, block, now)
        if block.recheck_after is not None:
            decision.wake_at(now + block.recheck_after)
        return None
    task.status.blocked_by = []
    due = timefmt.parse_time(task.status.next_attempt_time)
    if due is not None and due > now:
        task.set_phase(
            "Retrying",
            f"attempt {task.status.failed_attempts} failed "
            f"({attempts.last_failure_reason(task.status)}); next attempt at "
            f"{task.status.next_attempt_time}",
        )
        task.ready(reasons.DEPENDENCIES_MET, "dependencies met; waiting for the retry backoff", now)
        decision.wake_at(due)
        return None
    task.status.queued_time = task.status.queued_time or timefmt.format_time(now)
    return route


def _start_or_queue(
    task: TaskProgress,
    route: routing.Route,
    slots: capacity.Capacity,
    inputs: readiness.Inputs,
    config: Config,
    decision: Decision,
    now: datetime.datetime,
) -> None:
    hold = slots.circuit_hold(task)
    if hold is not None:
        task.set_phase("Queued", hold)
        task.not_ready(reasons.CIRCUIT_OPEN, hold, now)
        return
    ledger = inputs.ledgers.get(task.scope) or budgets.Ledger()
    found = budgets.exhausted(task, ledger, task.plan_spec.budget, now)
    if found is not None:  # what the attempts started earlier in this pass reserved
        readiness.show_block(task, readiness.Block(reasons.BUDGET_EXHAUSTED, found.message), now)
        if found.until is not None:
            decision.wake_at(found.until)
        return
    cap = slots.cap_reached(task, route, task.plan_spec)
    if cap is not None:
        task.set_phase("Queued", f"ready; waiting for a slot: {cap}")
        task.ready(reasons.DEPENDENCIES_MET, "dependencies met; waiting for a slot", now)
        return
    assert route.spec is not None  # a task without its profile is blocked, never started
    allowance = budgets.allowance(task, route.spec.budget, ledger, task.plan_spec.budget)
    members = inputs.members.get(task.dependency_scope, {})
    decision.dispatches.append(
        starting.start_attempt(task, route, members, config, now, allowance=allowance)
    )
    slots.take(task, route)
    ledger.reserve(allowance.cost_usd)  # the ledgers hold every task's scope
