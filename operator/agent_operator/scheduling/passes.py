"""One scheduling pass: `decide`, composed of the concerns of this package.

1. attempts: each task's attempt records are reconciled with its Jobs;
2. settling: done, finished and rerun tasks are settled;
3. readiness: every other task is routed and checked (suspended, plan paused, cycle,
   dependencies, gates, profile, the profile's limits, URLs, Secrets), then its retry
   backoff;
4. capacity: ready tasks start P0 first, then oldest, within the global, plan and profile
   caps and the plan's circuit breaker;
5. plans and events: plan statuses, ownerReferences, Events, counts for the metrics.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from agent_api import graph

from agent_operator import clock, routing
from agent_operator.scheduling import (
    attempts,
    capacity,
    events,
    plans,
    profiles,
    readiness,
    reasons,
    settling,
    starting,
)
from agent_operator.scheduling.decisions import Decision
from agent_operator.scheduling.progress import DependencyScope, TaskProgress, working_copy
from agent_operator.scheduling.snapshot import (
    Config,
    Snapshot,
    plan_label,
    plan_spec_of,
    scope_of,
    task_jobs,
)


def decide(snapshot: Snapshot, config: Config, now: datetime.datetime) -> Decision:
    """The whole pass, a pure function of its inputs: see the module docstring."""
    decision = Decision()
    tasks = [
        TaskProgress(
            entry=e,
            status=working_copy(e.task.status),
            jobs=task_jobs(snapshot, e.task),
            plan_spec=plan_spec_of(snapshot, scope_of(e.task), config),
        )
        for e in snapshot.tasks
    ]
    for task in tasks:
        attempts.reconcile(task, snapshot, decision, now)
        settling.settle(task, now)

    inputs = _readiness_inputs(tasks, snapshot, config)
    states = plans.circuits(tasks, snapshot, config, now, decision)
    ready = [
        (task, route)
        for task in tasks
        if not (task.terminal or task.running)
        and (route := _ready_route(task, snapshot, config, inputs, decision, now)) is not None
    ]
    ready.sort(key=lambda pair: capacity.queue_order(pair[0]))
    decision.queue = [task.entry.key for task, _ in ready]
    slots = capacity.Capacity.counting(tasks, max_concurrent=config.max_concurrent, circuits=states)
    for task, route in ready:
        _start_or_queue(task, route, slots, inputs, config, decision, now)

    attempts.releases(tasks, snapshot, decision)
    plans.owner_references(tasks, snapshot, decision)
    plans.plan_statuses(tasks, snapshot, states, decision, now)
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


def _readiness_inputs(
    tasks: list[TaskProgress], snapshot: Snapshot, config: Config
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
    )


def _ready_route(
    task: TaskProgress,
    snapshot: Snapshot,
    config: Config,
    inputs: readiness.Inputs,
    decision: Decision,
    now: datetime.datetime,
) -> routing.Route | None:
    """The task's route when it is ready to start now; None when it is blocked or backing off
    (its status then says why)."""
    route = profiles.route_task(task, snapshot, config, now)
    block = readiness.first_block(task, route, inputs)
    if block is not None:
        readiness.show_block(task, block, now)
        if block.recheck_after is not None:
            decision.wake_at(now + block.recheck_after)
        return None
    task.status.blocked_by = []
    due = clock.parse_time(task.status.next_attempt_time)
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
    task.status.queued_time = task.status.queued_time or clock.format_time(now)
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
    cap = slots.cap_reached(task, route, task.plan_spec)
    if cap is not None:
        task.set_phase("Queued", f"ready; waiting for a slot: {cap}")
        task.ready(reasons.DEPENDENCIES_MET, "dependencies met; waiting for a slot", now)
        return
    members = inputs.members.get(task.dependency_scope, {})
    decision.dispatches.append(starting.start_attempt(task, route, members, config, now))
    slots.take(task, route)
