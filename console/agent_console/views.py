"""The API's documents, as pure functions of a model of the cluster.

A `Model` is what the cache holds at one moment (the operator's own `Snapshot` type),
plus the operator's decision over it (`scheduling.decide`): the decision's statuses,
overlaid on the tasks' current ones, say why each task waits, and its queue says the
order ready tasks start in. Nothing here reads a clock or the API, so the dashboard and
agentctl print the same documents from the same inputs.

Documents are plain dicts with the CRDs' camelCase names; `schemas` holds their models.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from typing import Any

from agent_api import models, names, timefmt
from agent_operator import conditions, scheduling

Key = tuple[str, str]
# The plan name the console gives tasks without spec.plan: not a valid object name, so it
# never meets a real AgentPlan (the operator keeps them apart too).
NO_PLAN = "-"
Doc = dict[str, Any]
_PRIORITY = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
FINISHED = ("Succeeded", "Failed", "Cancelled")


@dataclasses.dataclass(frozen=True)
class PodInfo:
    """What the console needs of an attempt pod."""

    namespace: str
    name: str
    job: str | None
    task: str  # the task label
    attempt: int
    phase: str | None
    node: str | None
    created: str | None


@dataclasses.dataclass(frozen=True)
class EventInfo:
    """A Kubernetes Event about an AgentTask or AgentPlan."""

    namespace: str
    kind: str
    name: str  # the object it is about
    type: str | None
    reason: str | None
    message: str | None
    count: int
    first_time: str | None
    last_time: str | None


def pod_info(raw: dict[str, Any]) -> PodInfo | None:
    meta = raw.get("metadata") or {}
    labels = meta.get("labels") or {}
    found = names.attempt_of(labels)
    if found is None:
        return None
    task, attempt = found
    return PodInfo(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        job=labels.get("batch.kubernetes.io/job-name") or labels.get("job-name"),
        task=task,
        attempt=attempt,
        phase=(raw.get("status") or {}).get("phase"),
        node=(raw.get("spec") or {}).get("nodeName"),
        created=meta.get("creationTimestamp"),
    )


def event_info(raw: dict[str, Any]) -> EventInfo | None:
    involved = raw.get("involvedObject") or {}
    if involved.get("kind") not in ("AgentTask", "AgentPlan"):
        return None
    series = raw.get("series") or {}
    return EventInfo(
        namespace=involved.get("namespace") or (raw.get("metadata") or {}).get("namespace") or "",
        kind=involved["kind"],
        name=involved.get("name") or "",
        type=raw.get("type"),
        reason=raw.get("reason"),
        message=raw.get("message"),
        count=int(series.get("count") or raw.get("count") or 1),
        first_time=raw.get("firstTimestamp") or raw.get("eventTime"),
        last_time=(
            series.get("lastObservedTime") or raw.get("lastTimestamp") or raw.get("eventTime")
        ),
    )


@dataclasses.dataclass(frozen=True)
class Model:
    """One consistent view of the cluster and of the operator's decision over it."""

    version: int
    now: datetime.datetime
    snapshot: scheduling.Snapshot
    decision: scheduling.Decision
    tasks: dict[Key, models.AgentTask]
    scopes: dict[Key, list[Key]]  # (namespace, plan) -> its tasks, by task ID
    queue: list[Key]  # ready tasks, in the order the operator starts them
    starts_now: frozenset[Key]  # the queue's head that the next pass dispatches
    pods: dict[Key, PodInfo]  # (namespace, Job name) -> its pod
    events: dict[tuple[str, str, str], list[EventInfo]]  # (namespace, kind, name) -> events
    namespaces: frozenset[str] | None
    max_concurrent: int
    synced: bool = True
    # The tasks as the decision saw them, when it was made over an earlier snapshot than
    # `tasks` (the cache serves changes before the next decision is done); None: the
    # decision is over exactly these tasks.
    decided: dict[Key, models.AgentTask] | None = None
    # The scopes whose tasks changed since the model this one was built from (None: any).
    touched: frozenset[Key] | None = None

    def status(self, key: Key) -> models.AgentTaskStatus:
        """The task's status as the operator's rules make it now: the decision's status
        when it changed, else the one the task has. A task changed since the decision
        was made shows its own status until the next decision."""
        if self.decided is not None and self.decided.get(key) is not self.tasks[key]:
            return self.tasks[key].status
        found = self.decision.statuses.get(key)
        return found if found is not None else self.tasks[key].status


def build(
    *,
    snapshot: scheduling.Snapshot,
    config: scheduling.Config,
    now: datetime.datetime,
    version: int,
    pods: dict[Key, PodInfo] | None = None,
    events: dict[tuple[str, str, str], list[EventInfo]] | None = None,
    namespaces: frozenset[str] | None = None,
    synced: bool = True,
    decision: scheduling.Decision | None = None,
    decided: dict[Key, models.AgentTask] | None = None,
    previous: Model | None = None,
) -> Model:
    """Runs the operator's decision over the snapshot and indexes the result.

    With `decision`, no decision is run: it is the operator's decision over the tasks
    `decided` (an earlier snapshot; None: this one). With `previous`, the scopes whose
    tasks are the same objects keep its indexes (only the changed scopes are sorted)."""
    if decision is None:
        decision, decided = scheduling.decide(snapshot, config, now), None
    tasks = {entry.key: entry.task for entry in snapshot.tasks}
    scopes, touched = _index_scopes(snapshot, tasks, previous)
    if decided is not None and all(decided.get(k) is t for k, t in tasks.items()) and len(
        decided
    ) == len(tasks):
        decided = None  # the decision is over these very tasks
    dispatched = frozenset(d.key for d in decision.dispatches if d.key in tasks)
    return Model(
        version=version,
        now=now,
        snapshot=snapshot,
        decision=decision,
        tasks=tasks,
        scopes=scopes,
        queue=[k for k in ready_queue(decision, tasks, dispatched) if k in tasks],
        starts_now=dispatched,
        pods=pods or {},
        events=events or {},
        namespaces=namespaces,
        max_concurrent=config.max_concurrent,
        synced=synced,
        decided=decided,
        touched=touched,
    )


def _index_scopes(
    snapshot: scheduling.Snapshot,
    tasks: dict[Key, models.AgentTask],
    previous: Model | None,
) -> tuple[dict[Key, list[Key]], frozenset[Key] | None]:
    """(namespace, plan) -> its tasks by task ID; and the scopes changed since `previous`."""

    def order(members: list[Key]) -> list[Key]:
        members.sort(key=lambda k: (tasks[k].spec.task_id, k[1]))
        return members

    plan_scopes = {(ns, name or NO_PLAN) for ns, name in snapshot.plans}
    if previous is None:
        grouped: dict[Key, list[Key]] = defaultdict(list)
        for key, task in tasks.items():
            grouped[(key[0], plan_of(task))].append(key)
        for scope in plan_scopes:
            grouped.setdefault(scope, [])
        return {s: order(m) for s, m in grouped.items()}, None
    before = previous.tasks
    changed = [k for k, t in tasks.items() if before.get(k) is not t]
    changed += [k for k in before if k not in tasks]
    touched: set[Key] = set()
    for key in changed:
        if key in tasks:
            touched.add((key[0], plan_of(tasks[key])))
        if key in before:
            touched.add((key[0], plan_of(before[key])))
    touched |= plan_scopes ^ {
        (ns, name or NO_PLAN) for ns, name in previous.snapshot.plans
    }
    gone = set(changed)
    scopes = {s: m for s, m in previous.scopes.items() if s not in touched}
    fresh: dict[Key, list[Key]] = {s: [] for s in touched}
    for scope in touched:
        fresh[scope] = [k for k in previous.scopes.get(scope, []) if k not in gone]
    for key in changed:
        if key in tasks:
            fresh[(key[0], plan_of(tasks[key]))].append(key)
    for scope, members in fresh.items():
        if members or scope in plan_scopes:
            scopes[scope] = order(members)
    return scopes, frozenset(touched)


def ready_queue(
    decision: scheduling.Decision,
    tasks: dict[Key, models.AgentTask],
    dispatched: frozenset[Key],
) -> list[Key]:
    """The ready tasks in the order the operator starts them: the decision's own queue.
    A decision without one (an operator before `Decision.queue`) gives the tasks it
    dispatches or finds ready but waiting for a slot, P0 first, then oldest."""
    queue = getattr(decision, "queue", None)
    if queue is not None:
        return [(str(k[0]), str(k[1])) for k in queue]

    def ready(key: Key) -> bool:
        status = decision.statuses.get(key) or tasks[key].status
        condition = conditions.find(status.conditions, conditions.READY)
        return status.phase == "Queued" and condition is not None and condition.status == "True"

    keys = [k for k in tasks if k in dispatched or ready(k)]
    keys.sort(
        key=lambda k: (
            _PRIORITY.get(tasks[k].spec.priority, 2),
            tasks[k].metadata.creation_timestamp or "",
            tasks[k].spec.task_id,
            k[1],
        )
    )
    return keys


# --------------------------------------------------------------------------- helpers


def _stamp(model: Model) -> Doc:
    return {"generated": timefmt.format_time(model.now), "version": model.version}


def _seconds(start: str | None, end: str | None, now: datetime.datetime) -> float | None:
    begun = timefmt.parse_time(start)
    if begun is None:
        return None
    ended = timefmt.parse_time(end) or now
    return round(max((ended - begun).total_seconds(), 0.0), 3)


def plan_of(task: models.AgentTask) -> str:
    return task.spec.plan or NO_PLAN


def operator_scope(scope: Key) -> tuple[str, str | None]:
    """The operator's key of a plan: None for the tasks without one."""
    return (scope[0], None if scope[1] == NO_PLAN else scope[1])


def _attempt(record: models.AttemptRecord, now: datetime.datetime) -> Doc:
    return {
        "number": record.number,
        "job": record.job,
        "startTime": record.start_time,
        "completionTime": record.completion_time,
        "outcome": record.outcome,
        "reason": record.reason,
        "durationSeconds": _seconds(
            record.start_time,
            record.completion_time if record.outcome != "Running" else None,
            now,
        ),
    }


def _ready_condition(status: models.AgentTaskStatus) -> models.Condition | None:
    return conditions.find(status.conditions, conditions.READY)


# --------------------------------------------------------------------------- plans


def _summary(model: Model, scope: Key) -> Doc:
    members = model.scopes.get(scope, [])
    entry = model.snapshot.plans.get(scope)
    counts = dict.fromkeys((models.phase_key(p) for p in models.PHASES), 0)
    tokens_in = tokens_out = 0
    cost = 0.0
    starts: list[datetime.datetime] = []
    completions: list[datetime.datetime] = []
    for key in members:
        task = model.tasks[key]
        status = task.status
        phase = models.phase_key(status.phase or "Pending")
        counts[phase] += 1
        if status.result is not None:
            tokens_in += status.result.input_tokens
            tokens_out += status.result.output_tokens
        cost += status.spend.cost_usd
        started = timefmt.parse_time(status.start_time)
        if started is not None:
            starts.append(started)
        if status.phase == "Succeeded":
            done = timefmt.parse_time(status.completion_time)
            if done is not None:
                completions.append(done)
    total = len(members)
    succeeded = counts["succeeded"]
    rate, eta = _rate(model.now, starts, completions, remaining=total - succeeded)
    if entry is not None:
        circuit = entry.plan.status.circuit
    else:
        theirs = operator_scope(scope)
        circuit = model.decision.circuits.get(theirs) or model.snapshot.circuits.get(
            theirs, models.CircuitStatus()
        )
    return {
        "namespace": scope[0],
        "name": scope[1],
        "exists": entry is not None,
        "paused": bool(entry and entry.plan.spec.paused),
        "total": total,
        "progress": f"{succeeded}/{total}",
        "percent": round(100.0 * succeeded / total, 1) if total else 0.0,
        "counts": counts,
        "running": counts["running"],
        "failed": counts["failed"],
        "circuit": circuit.to_api(),
        "tokens": {"input": tokens_in, "output": tokens_out},
        "costUSD": round(cost, 6),
        "budget": _budget(model, scope),
        "tasksPerHour": rate,
        "eta": eta,
        "startTime": timefmt.format_time(min(starts)) if starts else None,
    }


def _budget(model: Model, scope: Key) -> Doc | None:
    """The scope's budget windows as the decision counted them; None without a budget."""
    theirs = operator_scope(scope)
    windows: dict[str, Doc] = {}
    for window in ("total", "daily"):
        figures = model.decision.budgets.get((theirs, window))
        if figures is None:
            continue
        limit, spent, reserved = figures
        windows[window] = {
            "limitUSD": limit,
            "spentUSD": spent,
            "reservedUSD": reserved,
            "remainingUSD": max(0.0, round(limit - spent - reserved, 4)),
        }
    if not windows:
        return None
    return {
        "total": windows.get("total"),
        "daily": windows.get("daily"),
        "exhausted": any(w["remainingUSD"] < 0.0001 for w in windows.values()),
    }


def _rate(
    now: datetime.datetime,
    starts: list[datetime.datetime],
    completions: list[datetime.datetime],
    *,
    remaining: int,
) -> tuple[float | None, str | None]:
    """Successes per hour over the last hour (or since the first start), and the ETA."""
    if not completions:
        return None, None
    if remaining == 0:
        first = min(starts) if starts else min(completions)
        last = max(completions)
        span = max((last - first).total_seconds(), 1.0)
        return round(len(completions) * 3600.0 / span, 2), timefmt.format_time(last)
    window_start = now - datetime.timedelta(hours=1)
    if starts and min(starts) > window_start:
        window_start = min(starts)
    span = max((now - window_start).total_seconds(), 1.0)
    recent = sum(1 for c in completions if c >= window_start)
    if recent == 0:
        return 0.0, None
    per_hour = recent * 3600.0 / span
    eta = now + datetime.timedelta(hours=remaining / per_hour)
    return round(per_hour, 2), timefmt.format_time(eta)


def _scopes_in(model: Model, namespace: str | None) -> list[Key]:
    return sorted(s for s in model.scopes if namespace is None or s[0] == namespace)


def plans(model: Model, namespace: str | None = None) -> Doc:
    """Every plan: progress, counts, circuit, spend, rate and ETA."""
    return {"items": [_summary(model, s) for s in _scopes_in(model, namespace)], **_stamp(model)}


def _row(model: Model, key: Key) -> Doc:
    task = model.tasks[key]
    status = task.status
    now_status = model.status(key)
    ready = _ready_condition(now_status)
    waiting = status.phase not in ("Running", "Succeeded", "Failed", "Cancelled")
    return {
        "name": key[1],
        "taskId": task.spec.task_id,
        "title": task.spec.title,
        "phase": status.phase or "Pending",
        "priority": task.spec.priority,
        "profile": status.agent_profile or task.spec.agent_profile,
        "milestone": task.metadata.labels.get(models.LABEL_MILESTONE),
        "dependsOn": list(task.spec.depends_on),
        "blockedBy": list(now_status.blocked_by if waiting else status.blocked_by),
        "reason": ready.reason if ready else None,
        "message": (now_status.message if waiting else status.message),
        "attempts": status.attempts,
        "history": [_attempt(r, model.now) for r in status.history],
        "startTime": status.start_time,
        "completionTime": status.completion_time,
        "costUSD": status.spend.cost_usd,
    }


def plan(model: Model, namespace: str, name: str) -> Doc | None:
    """One plan with its tasks; None when neither the plan nor a task of it exists."""
    scope = (namespace, name)
    if scope not in model.scopes:
        return None
    return {
        **_summary(model, scope),
        "tasks": [_row(model, key) for key in model.scopes[scope]],
        **_stamp(model),
    }


# --------------------------------------------------------------------------- tasks


def find_task(model: Model, namespace: str, ref: str, plan_name: str | None = None) -> Key | None:
    """A task by object name, else by task ID (within `plan_name` when given)."""
    if (namespace, ref) in model.tasks:
        return (namespace, ref)
    matches = [
        key
        for key, task in model.tasks.items()
        if key[0] == namespace
        and task.spec.task_id == ref
        and (plan_name is None or plan_of(task) == plan_name)
    ]
    return matches[0] if len(matches) == 1 else None


def task_matches(model: Model, namespace: str, ref: str) -> list[Key]:
    """Every task a reference could mean (to tell a person which to choose)."""
    return sorted(
        key
        for key, task in model.tasks.items()
        if key[0] == namespace and ref in (key[1], task.spec.task_id)
    )


def readiness(model: Model, key: Key) -> Doc:
    status = model.status(key)
    ready = _ready_condition(status)
    position = model.queue.index(key) + 1 if key in model.queue else None
    return {
        "phase": status.phase or "Pending",
        "reason": ready.reason if ready else None,
        "message": status.message,
        "blockedBy": list(status.blocked_by),
        "queuePosition": position,
    }


def current_attempt(task: models.AgentTask) -> models.AttemptRecord | None:
    """The running attempt, else the last one."""
    return task.status.history[-1] if task.status.history else None


def attempt_pod(model: Model, key: Key) -> tuple[models.AttemptRecord | None, PodInfo | None]:
    record = current_attempt(model.tasks[key])
    if record is None:
        return None, None
    return record, model.pods.get((key[0], record.job))


def task(model: Model, key: Key, log: Doc | None) -> Doc:
    """One task: spec, status, readiness, attempts, result, Events and the log's tail."""
    found = model.tasks[key]
    events = sorted(
        model.events.get((key[0], "AgentTask", key[1]), []),
        key=lambda e: e.last_time or "",
    )
    return {
        "namespace": key[0],
        "name": key[1],
        "uid": found.metadata.uid,
        "creationTimestamp": found.metadata.creation_timestamp,
        "plan": plan_of(found),
        "spec": found.spec.to_api(),
        "status": found.status.to_api(),
        "readiness": readiness(model, key),
        "attempts": [_attempt(r, model.now) for r in found.status.history],
        "result": found.status.result.to_api() if found.status.result else None,
        "events": [
            {
                "type": e.type,
                "reason": e.reason,
                "message": e.message,
                "count": e.count,
                "firstTime": e.first_time,
                "lastTime": e.last_time,
            }
            for e in events[-50:]
        ],
        "log": log,
        **_stamp(model),
    }


# --------------------------------------------------------------------------- agents


def _in(model: Model, key: Key, namespace: str | None, plan_name: str | None) -> bool:
    return (namespace is None or key[0] == namespace) and (
        plan_name is None or plan_of(model.tasks[key]) == plan_name
    )


def agents(model: Model, namespace: str | None = None, plan_name: str | None = None) -> Doc:
    """Running attempts, and how many per profile."""
    items = []
    per_profile: dict[tuple[str, str], int] = defaultdict(int)
    for key, found in model.tasks.items():
        status = found.status
        record = current_attempt(found)
        running = record is not None and record.outcome == "Running"
        if record is None or not running or not _in(model, key, namespace, plan_name):
            continue
        pod = model.pods.get((key[0], record.job))
        profile = status.agent_profile
        per_profile[(key[0], profile or "")] += 1
        items.append(
            {
                "namespace": key[0],
                "task": key[1],
                "taskId": found.spec.task_id,
                "plan": plan_of(found),
                "profile": profile,
                "attempt": record.number,
                "job": record.job,
                "pod": pod.name if pod else None,
                "node": pod.node if pod else None,
                "startTime": record.start_time,
                "ageSeconds": _seconds(record.start_time, None, model.now),
            }
        )
    items.sort(key=lambda i: (i["startTime"] or "", i["namespace"], i["task"]))
    return {
        "items": items,
        "byProfile": [
            {"namespace": ns, "profile": p, "running": n}
            for (ns, p), n in sorted(per_profile.items())
        ],
        **_stamp(model),
    }


def recent(
    model: Model, limit: int = 20, namespace: str | None = None, plan_name: str | None = None
) -> Doc:
    """Finished attempts, newest first."""
    found: list[Doc] = []
    for key, item in model.tasks.items():
        if not _in(model, key, namespace, plan_name):
            continue
        history = item.status.history
        for record in history:
            if record.outcome not in FINISHED:
                continue
            last = record is history[-1]
            found.append(
                {
                    "namespace": key[0],
                    "task": key[1],
                    "taskId": item.spec.task_id,
                    "plan": plan_of(item),
                    "profile": item.status.agent_profile,
                    "attempt": record.number,
                    "job": record.job,
                    "outcome": record.outcome,
                    "reason": record.reason,
                    "startTime": record.start_time,
                    "completionTime": record.completion_time,
                    "durationSeconds": _seconds(
                        record.start_time, record.completion_time, model.now
                    ),
                    "summary": (
                        item.status.result.summary[:500]
                        if last and item.status.result is not None
                        else None
                    ),
                }
            )
    found.sort(key=lambda d: (d["completionTime"] or "", d["task"]), reverse=True)
    return {"items": found[: max(limit, 0)], **_stamp(model)}


# --------------------------------------------------------------------------- the queue


def queue(model: Model, namespace: str | None = None, plan_name: str | None = None) -> Doc:
    """Ready tasks in start order, and for every waiting task why it waits."""
    ready: list[Doc] = []
    in_queue = set(model.queue)
    for key in model.queue:
        if not _in(model, key, namespace, plan_name):
            continue
        found = model.tasks[key]
        status = model.status(key)
        starts = key in model.starts_now
        ready.append(
            {
                "position": len(ready) + 1,
                "namespace": key[0],
                "task": key[1],
                "taskId": found.spec.task_id,
                "plan": plan_of(found),
                "priority": found.spec.priority,
                "profile": status.agent_profile,
                "startsNow": starts,
                "message": None if starts else status.message,
            }
        )
    waiting = []
    order = sorted(
        model.tasks, key=lambda k: (k[0], plan_of(model.tasks[k]), model.tasks[k].spec.task_id)
    )
    for key in order:
        if key in in_queue or not _in(model, key, namespace, plan_name):
            continue
        found = model.tasks[key]
        status = model.status(key)
        if status.phase in ("Running", "Succeeded", "Failed", "Cancelled"):
            continue
        if found.status.phase == "Running":
            continue  # the decision's view of a running task is the operator's to record
        ready_condition = _ready_condition(status)
        waiting.append(
            {
                "namespace": key[0],
                "task": key[1],
                "taskId": found.spec.task_id,
                "plan": plan_of(found),
                "priority": found.spec.priority,
                "phase": status.phase or "Pending",
                "reason": ready_condition.reason if ready_condition else None,
                "message": status.message,
                "blockedBy": list(status.blocked_by),
                "nextAttemptTime": status.next_attempt_time,
            }
        )
    return {"ready": ready, "waiting": waiting, **_stamp(model)}


def info(model: Model) -> Doc:
    return {
        "namespaces": sorted(model.namespaces) if model.namespaces is not None else None,
        "maxConcurrent": model.max_concurrent,
        "synced": model.synced,
        "decided": model.decided is None,
        "tasks": len(model.tasks),
        **_stamp(model),
    }
