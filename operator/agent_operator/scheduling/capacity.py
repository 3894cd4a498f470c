"""Capacity: the order ready tasks start in, the global, plan and profile caps, and the
circuit breaker's hold (an open breaker starts nothing; a half-open one one trial).

The global cap is shared fairly among the namespaces with ready work: `fair_order` hands
each next slot to the namespace with the fewest running attempts per unit of weight
(`Config.namespace_weights`, 1 for a namespace not listed; ties by name), so with equal
weights the namespaces take turns (round robin), and a namespace with weight 2 gets twice
the slots of one with weight 1 while both have ready work. Nothing is reserved: slots a
namespace does not need go to the others. Within a namespace, ready tasks start in
priority order (P0 first), then oldest first; priorities are not compared across
namespaces. Running attempts are never stopped to make room."""

from __future__ import annotations

import dataclasses
import heapq
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping

from agent_api import models, timefmt

from agent_operator import routing
from agent_operator.scheduling.progress import TaskProgress
from agent_operator.scheduling.snapshot import PlanScope, plan_phrase, running_record

_PRIORITY_RANK = {p: rank for rank, p in enumerate(models.PRIORITIES)}


def queue_order(task: TaskProgress) -> tuple[int, str, str, str]:
    """P0 first; then oldest (by creation), then by ID and name for a stable order."""
    return (
        _PRIORITY_RANK.get(task.spec.priority, _PRIORITY_RANK[models.DEFAULT_PRIORITY]),
        task.meta.creation_timestamp or "",
        task.spec.task_id,
        task.meta.name or "",
    )


@dataclasses.dataclass
class Capacity:
    """Running attempts counted per cap; `take` counts one more."""

    max_concurrent: int
    circuits: Mapping[PlanScope, models.CircuitStatus]
    running: int = 0
    by_namespace: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    by_scope: dict[PlanScope, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    by_profile: dict[tuple[str, str], int] = dataclasses.field(
        default_factory=lambda: defaultdict(int)
    )
    trials: set[PlanScope] = dataclasses.field(default_factory=set)  # half-open, trial running

    @classmethod
    def counting(
        cls,
        tasks: Iterable[TaskProgress],
        *,
        max_concurrent: int,
        circuits: Mapping[PlanScope, models.CircuitStatus],
    ) -> Capacity:
        """The capacity used by the attempts that run now."""
        capacity = cls(max_concurrent=max_concurrent, circuits=circuits)
        for task in tasks:
            if not task.running:
                continue
            capacity._count(task, task.status.agent_profile or "")
            record = running_record(task.status)
            state = circuits[task.scope]
            retry = timefmt.parse_time(state.retry_time)
            started = timefmt.parse_time(record.start_time) if record else None
            if state.state == "HalfOpen" and retry and started and started >= retry:
                capacity.trials.add(task.scope)
        return capacity

    def _count(self, task: TaskProgress, profile: str) -> None:
        self.running += 1
        self.by_namespace[task.namespace] += 1
        self.by_scope[task.scope] += 1
        self.by_profile[(task.namespace, profile)] += 1

    def circuit_hold(self, task: TaskProgress) -> str | None:
        """Why the plan's breaker holds the task back, or None."""
        scope = task.scope
        state = self.circuits[scope]
        if state.state == "Open":
            return (
                f"the circuit breaker of {plan_phrase(scope)} is open after "
                f"{state.consecutive_failures} failed attempts in a row; one trial attempt "
                f"at {state.retry_time}"
            )
        if state.state == "HalfOpen" and scope in self.trials:
            return (
                f"the circuit breaker of {plan_phrase(scope)} is half-open: waiting for "
                "the trial attempt"
            )
        return None

    def cap_reached(
        self, task: TaskProgress, route: routing.Route, plan_spec: models.AgentPlanSpec
    ) -> str | None:
        """The first cap with no free slot for the task, or None."""
        if self.running >= self.max_concurrent:
            return f"global cap of {self.max_concurrent} running attempts reached"
        if self.by_scope[task.scope] >= plan_spec.max_concurrent:
            return (
                f"{plan_phrase(task.scope)} cap of {plan_spec.max_concurrent} running attempts "
                "reached"
            )
        profile_cap = route.spec.max_concurrent if route.spec else None
        if profile_cap is not None and (
            self.by_profile[(task.namespace, route.profile_name)] >= profile_cap
        ):
            return f"profile {route.profile_name!r} cap of {profile_cap} running attempts reached"
        return None

    def take(self, task: TaskProgress, route: routing.Route) -> None:
        """Counts the attempt the task is starting (a half-open breaker's trial, too)."""
        self._count(task, route.profile_name)
        if self.circuits[task.scope].state == "HalfOpen":
            self.trials.add(task.scope)


def fair_order(
    ready: Iterable[tuple[TaskProgress, routing.Route]],
    slots: Capacity,
    weights: Mapping[str, float],
) -> Iterator[tuple[TaskProgress, routing.Route]]:
    """The ready tasks in the order they are offered a slot: each next task comes from the
    namespace with the fewest running attempts (counted in `slots`, which the caller updates
    as it starts tasks) per unit of weight; within a namespace, `queue_order`."""
    queues: dict[str, deque[tuple[TaskProgress, routing.Route]]] = defaultdict(deque)
    for pair in sorted(ready, key=lambda pair: queue_order(pair[0])):
        queues[pair[0].namespace].append(pair)

    def share(namespace: str) -> float:
        return slots.by_namespace.get(namespace, 0) / max(weights.get(namespace, 1.0), 1e-9)

    heap = [(share(ns), ns) for ns in queues]
    heapq.heapify(heap)
    while heap:
        if slots.running >= slots.max_concurrent:  # no slot left: the order no longer matters
            for _, namespace in sorted(heap, key=lambda item: item[1]):
                yield from queues[namespace]
            return
        _, namespace = heapq.heappop(heap)
        queue = queues[namespace]
        yield queue.popleft()
        if queue:
            heapq.heappush(heap, (share(namespace), namespace))
