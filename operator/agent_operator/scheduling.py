"""Every scheduling decision, as one pure function of a snapshot of the cluster.

`decide` takes all tasks, plans, profiles and attempt Jobs (plus the reports of Jobs that
just finished) and returns the status every task and plan should have, the Jobs to create
and the Jobs to delete. It reads no clock and calls no API, so a crash at any point loses
nothing: the next pass recomputes the same decisions from what the cluster holds.

The order of one pass:
1. each task's attempts are reconciled with its Jobs (adopting a Job whose creation was not
   yet recorded, finishing attempts whose Job completed, failed or vanished, cancelling
   attempts of suspended or done tasks);
2. done, finished and rerun tasks are settled;
3. every other task is checked: suspended, plan paused, on a cycle, dependencies, gates,
   profile, Secret, backoff;
4. ready tasks are dispatched P0 first, then oldest first, within the global, plan and
   profile caps and the plan's circuit breaker.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from typing import Any

from agent_api import models, names

from agent_operator import backoff, circuit, clock, conditions, graph, jobs, results, routing

TERMINAL = ("Succeeded", "Failed")
HISTORY_LIMIT = 20
SECRET_RECHECK = datetime.timedelta(seconds=10)

TaskKey = tuple[str, str]  # (namespace, name)
ScopeKey = tuple[str, str]  # (namespace, plan name; 'default' for tasks without a plan)


@dataclasses.dataclass(frozen=True)
class TaskEntry:
    """One AgentTask, parsed. The cache keeps no raw copy: at 10,000 tasks it would
    double the operator's memory."""

    task: models.AgentTask

    @property
    def raw(self) -> dict[str, Any]:
        """The object as the API has it (unknown metadata kept), for the Job."""
        return self.task.model_dump(by_alias=True, exclude_none=True, mode="json")

    @property
    def key(self) -> TaskKey:
        return (self.task.metadata.namespace or "", self.task.metadata.name or "")


@dataclasses.dataclass(frozen=True)
class PlanEntry:
    """One AgentPlan: parsed, with the uid its tasks' ownerReferences need."""

    plan: models.AgentPlan
    uid: str
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Snapshot:
    """What the cluster holds, as the operator's cache sees it."""

    tasks: list[TaskEntry]
    plans: dict[ScopeKey, PlanEntry]
    profiles: dict[str, list[models.AgentProfile]]  # namespace -> profiles in rule order
    jobs: dict[tuple[str, str], list[jobs.JobView]]  # (namespace, task label) -> Jobs
    reports: dict[tuple[str, str], results.PodReport | None] = dataclasses.field(
        default_factory=dict
    )  # (namespace, Job) -> report of a finished Job; None: no pod was found
    missing_jobs: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    secrets: dict[tuple[str, str, str], str | None] = dataclasses.field(
        default_factory=dict
    )  # (namespace, Secret, key) -> None when usable, else what is wrong
    circuits: dict[ScopeKey, models.CircuitStatus] = dataclasses.field(
        default_factory=dict
    )  # breakers of scopes without an AgentPlan object (kept in memory)


@dataclasses.dataclass(frozen=True)
class Config:
    """Operator settings the decisions depend on."""

    max_concurrent: int = 5
    fallback_profile: str = models.FALLBACK_PROFILE
    default_image: str = models.DEFAULT_RUNNER_IMAGE
    job_ttl_seconds: int = 3600
    identity: str = "agent-operator"


@dataclasses.dataclass(frozen=True)
class Dispatch:
    """A Job to create, and the task's status before it (kept if the creation fails)."""

    key: TaskKey
    job: dict[str, Any]
    profile: str
    scope: ScopeKey
    latency_seconds: float | None  # from queued to now
    status_before: models.AgentTaskStatus


@dataclasses.dataclass(frozen=True)
class Cancel:
    """A Job to delete."""

    namespace: str
    job: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Event:
    """A Kubernetes Event to record on a task or plan."""

    namespace: str
    kind: str
    name: str
    uid: str
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class FinishedAttempt:
    """An attempt whose end this pass recorded (for metrics)."""

    scope: ScopeKey
    profile: str
    outcome: str
    reason: str | None
    duration_seconds: float | None
    retried: bool
    input_tokens: int = 0  # as the runner reported them (0 without a report)
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclasses.dataclass
class Decision:
    """Everything one pass decided."""

    statuses: dict[TaskKey, models.AgentTaskStatus] = dataclasses.field(default_factory=dict)
    dispatches: list[Dispatch] = dataclasses.field(default_factory=list)
    cancels: list[Cancel] = dataclasses.field(default_factory=list)
    owner_refs: dict[TaskKey, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    plan_statuses: dict[ScopeKey, models.AgentPlanStatus] = dataclasses.field(default_factory=dict)
    circuits: dict[ScopeKey, models.CircuitStatus] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)
    finished: list[FinishedAttempt] = dataclasses.field(default_factory=list)
    phase_counts: dict[tuple[str, str, str], int] = dataclasses.field(default_factory=dict)
    running_by_profile: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    next_wake: datetime.datetime | None = None

    def wake_at(self, moment: datetime.datetime) -> None:
        """Asks for another pass no later than `moment`."""
        if self.next_wake is None or moment < self.next_wake:
            self.next_wake = moment


@dataclasses.dataclass
class _Work:
    """A task while the pass works on it."""

    entry: TaskEntry
    status: models.AgentTaskStatus
    jobs: list[jobs.JobView]
    plan_spec: models.AgentPlanSpec
    terminal: bool = False
    running: bool = False

    @property
    def spec(self) -> models.AgentTaskSpec:
        return self.entry.task.spec

    @property
    def meta(self) -> models.ObjectMeta:
        return self.entry.task.metadata

    @property
    def namespace(self) -> str:
        return self.meta.namespace or ""

    @property
    def dep_scope(self) -> tuple[str, str | None]:
        return (self.namespace, self.spec.plan)

    @property
    def scope(self) -> ScopeKey:
        return (self.namespace, self.spec.plan or "default")


# --------------------------------------------------------------------------- inputs


def scope_of(task: models.AgentTask) -> ScopeKey:
    """The plan whose settings, caps and breaker apply to the task."""
    return (task.metadata.namespace or "", task.spec.plan or "default")


def task_jobs(snapshot: Snapshot, task: models.AgentTask) -> list[jobs.JobView]:
    """The task's attempt Jobs (a Job of an earlier task of the same name is not its)."""
    key = (task.metadata.namespace or "", names.label_value(task.metadata.name or ""))
    uid = task.metadata.uid
    return [j for j in snapshot.jobs.get(key, []) if j.owner_uid in (None, uid)]


def reports_needed(snapshot: Snapshot) -> list[jobs.JobView]:
    """Finished Jobs whose attempt is not yet recorded: their pods must be read."""
    needed = []
    for entry in snapshot.tasks:
        record = _running_record(entry.task.status)
        if record is None:
            continue
        for job in task_jobs(snapshot, entry.task):
            if (
                job.name == record.job
                and job.finished is not None
                and (job.namespace, job.name) not in snapshot.reports
            ):
                needed.append(job)
    return needed


def jobs_to_confirm(snapshot: Snapshot) -> list[tuple[str, str]]:
    """Running attempts whose Job the cache does not hold: ask the API server."""
    missing = []
    for entry in snapshot.tasks:
        record = _running_record(entry.task.status)
        if record is None:
            continue
        names = {j.name for j in task_jobs(snapshot, entry.task)}
        if record.job not in names:
            missing.append((entry.task.metadata.namespace or "", record.job))
    return missing


def secrets_needed(snapshot: Snapshot) -> set[tuple[str, str, str]]:
    """Secret keys the unfinished tasks' Jobs would reference."""
    needed: set[tuple[str, str, str]] = set()
    for entry in snapshot.tasks:
        task = entry.task
        if task.spec.done or task.status.phase in TERMINAL or task.status.current_job:
            continue
        ns = task.metadata.namespace or ""
        ref = _plan_spec(snapshot, scope_of(task)).api_key_secret
        needed.add((ns, ref.name, ref.key))
        if task.spec.repository and task.spec.repository.credentials_secret:
            cred = task.spec.repository.credentials_secret
            needed.add((ns, cred.name, cred.key))
    return needed


def _running_record(status: models.AgentTaskStatus) -> models.AttemptRecord | None:
    if status.history and status.history[-1].outcome == "Running":
        return status.history[-1]
    return None


def _plan_spec(snapshot: Snapshot, scope: ScopeKey) -> models.AgentPlanSpec:
    entry = snapshot.plans.get(scope)
    return entry.plan.spec if entry is not None else models.AgentPlanSpec()


# --------------------------------------------------------------------------- the pass


def decide(snapshot: Snapshot, config: Config, now: datetime.datetime) -> Decision:
    """The whole pass: see the module docstring."""
    decision = Decision()
    works = [
        _Work(
            entry=e,
            status=_working_copy(e.task.status),
            jobs=task_jobs(snapshot, e.task),
            plan_spec=_plan_spec(snapshot, scope_of(e.task)),
        )
        for e in snapshot.tasks
    ]
    for work in works:
        _reconcile_attempts(work, snapshot, decision, now)
        _settle(work, now)

    by_dep_scope: dict[tuple[str, str | None], dict[str, _Work]] = defaultdict(dict)
    for work in works:
        by_dep_scope[work.dep_scope].setdefault(work.spec.task_id, work)
    on_cycle: dict[tuple[str, str | None], dict[str, tuple[str, ...]]] = {}
    for dep_scope, members in by_dep_scope.items():
        edges = {
            tid: list(w.spec.depends_on)
            for tid, w in members.items()
            if not (w.terminal and w.status.phase == "Succeeded")
        }
        on_cycle[dep_scope] = graph.cycles(edges)

    circuits = _circuits(works, snapshot, now, decision)

    running_global = 0
    running_scope: dict[ScopeKey, int] = defaultdict(int)
    running_profile: dict[tuple[str, str], int] = defaultdict(int)
    trial_running: set[ScopeKey] = set()
    for work in works:
        if work.running:
            running_global += 1
            running_scope[work.scope] += 1
            profile = work.status.agent_profile or ""
            running_profile[(work.namespace, profile)] += 1
            record = _running_record(work.status)
            state = circuits[work.scope]
            retry = clock.parse_time(state.retry_time)
            started = clock.parse_time(record.start_time) if record else None
            if state.state == "HalfOpen" and retry and started and started >= retry:
                trial_running.add(work.scope)

    candidates: list[tuple[_Work, routing.Route]] = []
    for work in works:
        if work.terminal or work.running:
            continue
        route = _route(work, snapshot, config, now)
        if _blocked(work, route, snapshot, by_dep_scope, on_cycle, decision, now):
            continue
        due = clock.parse_time(work.status.next_attempt_time)
        if due is None or due <= now:
            work.status.queued_time = work.status.queued_time or clock.format_time(now)
        else:
            _set_phase(
                work,
                "Retrying",
                f"attempt {work.status.failed_attempts} failed "
                f"({_last_reason(work.status)}); next attempt at {work.status.next_attempt_time}",
            )
            _ready(work, "DependenciesMet", "dependencies met; waiting for the retry backoff", now)
            decision.wake_at(due)
            continue
        candidates.append((work, route))

    candidates.sort(key=lambda c: _queue_order(c[0]))
    for work, route in candidates:
        scope = work.scope
        plan_spec = _plan_spec(snapshot, scope)
        state = circuits[scope]
        if state.state == "Open" or (state.state == "HalfOpen" and scope in trial_running):
            why = (
                f"the circuit breaker of plan {scope[1]!r} is open after "
                f"{state.consecutive_failures} failed attempts in a row; one trial attempt "
                f"at {state.retry_time}"
                if state.state == "Open"
                else f"the circuit breaker of plan {scope[1]!r} is half-open: waiting for "
                "the trial attempt"
            )
            _set_phase(work, "Queued", why)
            _not_ready(work, "CircuitOpen", why, now)
            continue
        profile_cap = route.spec.max_concurrent if route.spec else None
        cap_reason = None
        if running_global >= config.max_concurrent:
            cap_reason = f"global cap of {config.max_concurrent} running attempts reached"
        elif running_scope[scope] >= plan_spec.max_concurrent:
            cap_reason = (
                f"plan {scope[1]!r} cap of {plan_spec.max_concurrent} running attempts reached"
            )
        elif (
            profile_cap is not None
            and running_profile[(work.namespace, route.profile_name)] >= profile_cap
        ):
            cap_reason = (
                f"profile {route.profile_name!r} cap of {profile_cap} running attempts reached"
            )
        if cap_reason is not None:
            _set_phase(work, "Queued", f"ready; waiting for a slot: {cap_reason}")
            _ready(work, "DependenciesMet", "dependencies met; waiting for a slot", now)
            continue
        decision.dispatches.append(_dispatch(work, route, snapshot, by_dep_scope, config, now))
        work.running = True
        running_global += 1
        running_scope[scope] += 1
        running_profile[(work.namespace, route.profile_name)] += 1
        if state.state == "HalfOpen":
            trial_running.add(scope)

    _owner_references(works, snapshot, decision)
    _plan_statuses(works, snapshot, circuits, decision, now)
    for work in works:
        if work.status != work.entry.task.status:
            decision.statuses[work.entry.key] = work.status
        _transition_event(work, decision)
        plan_label = work.spec.plan or ""
        count_key = (work.namespace, plan_label, work.status.phase or "Pending")
        decision.phase_counts[count_key] = decision.phase_counts.get(count_key, 0) + 1
    decision.running_by_profile = dict(running_profile)
    return decision


# --------------------------------------------------------------------------- attempts


def _reconcile_attempts(
    work: _Work, snapshot: Snapshot, decision: Decision, now: datetime.datetime
) -> None:
    """Brings the attempt records in line with the task's Jobs."""
    status = work.status
    known = max((r.number for r in status.history), default=0)
    for found in sorted(work.jobs, key=lambda j: j.attempt):
        if found.attempt > known and not found.deleting:
            # Created by a pass whose status write never landed: adopt it.
            status.history.append(
                models.AttemptRecord(
                    number=found.attempt,
                    job=found.name,
                    start_time=clock.format_time(found.created or now),
                )
            )
            status.attempts += 1
            status.current_job = found.name
            status.agent_profile = found.profile or status.agent_profile
            status.start_time = status.start_time or clock.format_time(found.created or now)
            known = found.attempt
    del status.history[:-HISTORY_LIMIT]

    record = _running_record(status)
    by_name = {j.name: j for j in work.jobs}
    if record is not None:
        job: jobs.JobView | None = by_name.get(record.job)
        stop = work.spec.suspend or work.spec.done
        if job is None or (job.deleting and job.finished is None):
            if job is None and (work.namespace, record.job) not in snapshot.missing_jobs:
                work.running = True  # the cache may be behind; confirmed next pass
            elif stop:
                _finish(work, record, "Cancelled", _cancel_reason(work), None, None, decision, now)
            else:
                summary = f"Job {record.job} was deleted before the attempt finished"
                _finish(
                    work,
                    record,
                    "Failed",
                    "JobDeleted",
                    models.TaskResult(summary=summary, reason="JobDeleted"),
                    None,
                    decision,
                    now,
                )
        elif job.finished == "Complete":
            report_key = (job.namespace, job.name)
            if report_key not in snapshot.reports:
                work.running = True  # its pod is read before the next pass
            else:
                report = snapshot.reports[report_key]
                result = results.parse_report(report.message if report else None)
                _finish(work, record, "Succeeded", None, result, job.completed, decision, now)
        elif job.finished == "Failed":
            report_key = (job.namespace, job.name)
            if report_key not in snapshot.reports:
                work.running = True
            else:
                report = snapshot.reports[report_key]
                result = results.parse_report(report.message if report else None)
                if job.failure_reason == "DeadlineExceeded":
                    reason = "DeadlineExceeded"
                    if result.summary == results.NO_REPORT:
                        result.summary = (
                            f"the attempt exceeded its timeout of "
                            f"{work.spec.timeout_seconds}s (spec.timeoutSeconds)"
                        )
                else:
                    # No pod left while its Job still exists: it was deleted under the attempt.
                    reason = (
                        "PodDeleted" if report is None else results.failure_reason(report, result)
                    )
                result.reason = reason
                _finish(work, record, "Failed", reason, result, job.completed, decision, now)
        elif stop:
            decision.cancels.append(Cancel(work.namespace, job.name, _cancel_reason(work)))
            _finish(work, record, "Cancelled", _cancel_reason(work), None, None, decision, now)
        else:
            work.running = True
    current = status.current_job if work.running else None
    for other in work.jobs:
        if (
            other.active
            and other.name != current
            and not any(
                c.job == other.name and c.namespace == other.namespace for c in decision.cancels
            )
        ):
            decision.cancels.append(
                Cancel(work.namespace, other.name, "not the task's current attempt")
            )
    if work.running:
        status.phase = "Running"


def _cancel_reason(work: _Work) -> str:
    return "MarkedDone" if work.spec.done else "Suspended"


def _finish(
    work: _Work,
    record: models.AttemptRecord,
    outcome: str,
    reason: str | None,
    result: models.TaskResult | None,
    completed: datetime.datetime | None,
    decision: Decision,
    now: datetime.datetime,
) -> None:
    """Records the end of the running attempt and what follows from it."""
    status = work.status
    finished_at = completed or now
    record = record.model_copy(
        update={
            "outcome": outcome,
            "completion_time": clock.format_time(finished_at),
            "reason": reason,
        }
    )
    status.history[-1] = record  # the running record is always the newest
    status.current_job = None
    status.queued_time = None
    started = clock.parse_time(record.start_time)
    duration = (finished_at - started).total_seconds() if started else None
    retried = False
    if outcome == "Succeeded":
        status.result = result
        status.phase = "Succeeded"
        status.completion_time = clock.format_time(finished_at)
        status.next_attempt_time = None
        status.message = (
            f"attempt {record.number} succeeded: {(result.summary if result else '')[:300]}"
        )
        _condition(work, conditions.SUCCEEDED, "True", "AttemptSucceeded", status.message, now)
    elif outcome == "Failed":
        status.failed_attempts += 1
        status.result = result
        max_retries = _max_retries(work)
        if reason in results.NOT_RETRIED or status.failed_attempts > max_retries:
            why = (
                f"attempt {record.number} failed with {reason}, which a retry cannot fix"
                if reason in results.NOT_RETRIED
                else f"attempt {record.number} failed ({reason}); all {max_retries} retries used"
            )
            if result and result.summary:
                why = f"{why}: {result.summary[:300]}"
            status.phase = "Failed"
            status.completion_time = clock.format_time(finished_at)
            status.next_attempt_time = None
            status.message = why
            _condition(work, conditions.SUCCEEDED, "False", reason or "Failed", why, now)
        else:
            retried = True
            delay = backoff.retry_delay_seconds(
                failed_attempts=status.failed_attempts,
                base_seconds=work.plan_spec.retry.backoff_base_seconds,
                cap_seconds=work.plan_spec.retry.backoff_cap_seconds,
            )
            due = now + datetime.timedelta(seconds=delay)
            status.next_attempt_time = clock.format_time(due)
            status.phase = "Retrying"
            status.message = f"attempt {record.number} failed ({reason}); retry in {delay:g}s"
            decision.wake_at(due)
    else:
        status.phase = None  # settled again below (suspended or done)
    decision.finished.append(
        FinishedAttempt(
            scope=work.scope,
            profile=status.agent_profile or "",
            outcome=outcome,
            reason=reason,
            duration_seconds=duration,
            retried=retried,
            input_tokens=result.input_tokens if result else 0,
            output_tokens=result.output_tokens if result else 0,
            cost_usd=result.cost_usd if result else 0.0,
        )
    )
    work.running = False


def _working_copy(status: models.AgentTaskStatus) -> models.AgentTaskStatus:
    """A copy the pass may change: the lists are new, their items shared. Items are never
    changed in place (records and conditions are replaced), so this is as safe as a deep
    copy at a fraction of its cost."""
    return status.model_copy(
        update={
            "history": list(status.history),
            "conditions": list(status.conditions),
            "blocked_by": list(status.blocked_by),
        }
    )


def _max_retries(work: _Work) -> int:
    if work.spec.max_retries is not None:
        return work.spec.max_retries
    return work.plan_spec.retry.max_retries


def _last_reason(status: models.AgentTaskStatus) -> str:
    for record in reversed(status.history):
        if record.outcome == "Failed":
            return record.reason or "Failed"
    return "Failed"


# --------------------------------------------------------------------------- settling


def _settle(work: _Work, now: datetime.datetime) -> None:
    """Done, finished and rerun tasks: no dispatch decision is needed for them."""
    status = work.status
    spec = work.spec
    gen = work.meta.generation
    status.observed_generation = gen
    if work.running:
        return
    if spec.done:
        status.phase = "Succeeded"
        status.completion_time = status.completion_time or clock.format_time(now)
        status.next_attempt_time = None
        status.queued_time = None
        status.blocked_by = []
        status.observed_rerun = spec.rerun
        status.message = "marked done (spec.done); not dispatched"
        _condition(work, conditions.SUCCEEDED, "True", "MarkedDone", status.message, now)
        _condition(work, conditions.READY, "False", "MarkedDone", status.message, now)
        work.terminal = True
        return
    succeeded = conditions.find(status.conditions, conditions.SUCCEEDED)
    was_marked_done = succeeded is not None and succeeded.reason == "MarkedDone"
    if status.phase in TERMINAL or status.phase == "Cancelled":
        if was_marked_done or (spec.rerun or None) != (status.observed_rerun or None):
            # A new run: a person unmarked the task or asked for it again (spec.rerun).
            status.attempts = 0
            status.failed_attempts = 0
            status.result = None if not was_marked_done else status.result
            status.start_time = None
            status.completion_time = None
            status.next_attempt_time = None
            status.queued_time = None
            status.phase = "Pending"
            status.observed_rerun = spec.rerun
            _condition(
                work, conditions.SUCCEEDED, "Unknown", "NewRun",
                "unmarked as done" if was_marked_done else f"rerun {spec.rerun!r} requested",
                now,
            )
            return
        work.terminal = True


def _route(
    work: _Work, snapshot: Snapshot, config: Config, now: datetime.datetime
) -> routing.Route:
    route = routing.route(
        work.spec,
        snapshot.profiles.get(work.namespace, []),
        fallback=config.fallback_profile,
        default_image=config.default_image,
    )
    status = work.status
    status.agent_profile = route.profile_name
    status.matched_rule = route.matched_rule
    skipped = (
        f" (skipped profiles with an invalid rule: {', '.join(route.invalid_rules)})"
        if route.invalid_rules
        else ""
    )
    if route.spec is None:
        message = (
            f"spec.agentProfile names AgentProfile {route.profile_name!r}, which does not exist "
            f"in namespace {work.namespace!r}: create it or change spec.agentProfile"
        )
        _condition(work, conditions.ROUTED, "False", "ProfileNotFound", message, now)
    elif route.builtin:
        message = (
            f"no rule matched and the fallback AgentProfile {route.profile_name!r} does not "
            f"exist: using built-in defaults{skipped}"
        )
        _condition(work, conditions.ROUTED, "True", "BuiltinFallback", message, now)
    else:
        reason = {"spec.agentProfile": "SpecAgentProfile", "fallback": "Fallback"}.get(
            route.matched_rule, "RuleMatched"
        )
        message = f"profile {route.profile_name!r} chosen by {route.matched_rule}{skipped}"
        _condition(work, conditions.ROUTED, "True", reason, message, now)
    return route


def _blocked(
    work: _Work,
    route: routing.Route,
    snapshot: Snapshot,
    by_dep_scope: dict[tuple[str, str | None], dict[str, _Work]],
    on_cycle: dict[tuple[str, str | None], dict[str, tuple[str, ...]]],
    decision: Decision,
    now: datetime.datetime,
) -> bool:
    """Sets the Blocked phase and Ready=False when something holds the task back."""
    spec = work.spec
    status = work.status
    scope_name = spec.plan or "default"
    members = by_dep_scope[work.dep_scope]
    where = f"plan {spec.plan!r}" if spec.plan else f"namespace {work.namespace!r}"

    def block(reason: str, message: str, blocked_by: list[str]) -> bool:
        status.blocked_by = blocked_by
        status.queued_time = None
        _set_phase(work, "Blocked", message)
        _not_ready(work, reason, message, now)
        return True

    if spec.suspend:
        return block("Suspended", "suspended (spec.suspend); set it to false to run", [])
    if work.plan_spec.paused:
        return block("PlanPaused", f"plan {scope_name!r} is paused (spec.paused)", [])
    cycle = on_cycle[work.dep_scope].get(spec.task_id)
    if cycle is not None:
        return block(
            "Cycle",
            f"on a dependency cycle: {' -> '.join(cycle)}; remove one of these dependencies",
            [d for d in spec.depends_on if d in cycle],
        )
    missing, failed, waiting = [], [], []
    for dep in spec.depends_on:
        other = members.get(dep)
        if other is None:
            missing.append(dep)
        elif other.status.phase == "Succeeded" and other.terminal:
            continue
        elif other.status.phase == "Failed" and other.terminal:
            failed.append(dep)
        else:
            waiting.append(dep)
    if failed:
        return block(
            "DependencyFailed",
            f"dependency {', '.join(failed)} failed; rerun it or mark it done",
            failed + missing + waiting,
        )
    if missing:
        return block(
            "DependencyMissing",
            f"dependency {', '.join(missing)} does not exist in {where}; "
            "add the task or remove it from dependsOn",
            missing + waiting,
        )
    if waiting:
        return block("WaitingForDependencies", f"waiting for {', '.join(waiting)}", waiting)
    if spec.gates:
        return block("Gated", f"gated by: {'; '.join(spec.gates)}", list(spec.gates))
    if route.spec is None:
        return block(
            "ProfileNotFound",
            f"AgentProfile {route.profile_name!r} (spec.agentProfile) does not exist in "
            f"namespace {work.namespace!r}: create it or change spec.agentProfile",
            [],
        )
    needed = [
        (work.namespace, work.plan_spec.api_key_secret.name, work.plan_spec.api_key_secret.key)
    ]
    if spec.repository and spec.repository.credentials_secret:
        cred = spec.repository.credentials_secret
        needed.append((work.namespace, cred.name, cred.key))
    for secret_key in needed:
        problem = snapshot.secrets.get(secret_key)
        if problem:
            decision.wake_at(now + SECRET_RECHECK)
            return block("SecretMissing", problem, [])
    status.blocked_by = []
    return False


def _set_phase(work: _Work, phase: models.Phase, message: str) -> None:
    work.status.phase = phase
    work.status.message = message[:4096]


def _condition(
    work: _Work,
    type: str,
    status: models.ConditionStatus,
    reason: str,
    message: str,
    now: datetime.datetime,
) -> None:
    """Sets one condition of the task, against the generation this pass read."""
    work.status.conditions = conditions.set_condition(
        work.status.conditions, type=type, status=status, reason=reason, message=message,
        generation=work.meta.generation, now=now,
    )


def _ready(work: _Work, reason: str, message: str, now: datetime.datetime) -> None:
    _condition(work, conditions.READY, "True", reason, message, now)


def _not_ready(work: _Work, reason: str, message: str, now: datetime.datetime) -> None:
    _condition(work, conditions.READY, "False", reason, message, now)


_PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}


def _queue_order(work: _Work) -> tuple[int, str, str, str]:
    """P0 first; then oldest (by creation), then by name for a stable order."""
    return (
        _PRIORITY_ORDER.get(work.spec.priority, 2),
        work.meta.creation_timestamp or "",
        work.spec.task_id,
        work.meta.name or "",
    )


# --------------------------------------------------------------------------- dispatch


def _dispatch(
    work: _Work,
    route: routing.Route,
    snapshot: Snapshot,
    by_dep_scope: dict[tuple[str, str | None], dict[str, _Work]],
    config: Config,
    now: datetime.datetime,
) -> Dispatch:
    """Starts the next attempt: the Job to create and the status that records it."""
    status = work.status
    before = _working_copy(status)
    number = max((r.number for r in status.history), default=0) + 1
    assert route.spec is not None  # checked by _blocked
    members = by_dep_scope[work.dep_scope]
    dependencies = []
    for dep in work.spec.depends_on:
        other = members.get(dep)
        if other is not None:
            dependencies.append(
                {
                    "taskId": dep,
                    "title": other.spec.title,
                    "summary": other.status.result.summary if other.status.result else "",
                }
            )
    previous_failure = None
    if status.history and status.history[-1].outcome == "Failed":
        previous_failure = {
            "reason": status.history[-1].reason or "Failed",
            "summary": status.result.summary if status.result else "",
        }
    manifest = jobs.build(
        jobs.JobInputs(
            task=work.entry.raw,
            attempt=number,
            profile_name=route.profile_name,
            profile=route.spec,
            api_key=work.plan_spec.api_key_secret,
            plan_name=work.spec.plan or "",
            dependencies=dependencies,
            previous_failure=previous_failure,
            ttl_seconds=config.job_ttl_seconds,
            created_by=config.identity,
        )
    )
    name = manifest["metadata"]["name"]
    queued = clock.parse_time(status.queued_time)
    latency = (now - queued).total_seconds() if queued else None
    status.attempts += 1
    status.current_job = name
    status.history.append(
        models.AttemptRecord(number=number, job=name, start_time=clock.format_time(now))
    )
    del status.history[:-HISTORY_LIMIT]
    status.start_time = status.start_time or clock.format_time(now)
    status.next_attempt_time = None
    status.observed_rerun = work.spec.rerun
    status.blocked_by = []
    _set_phase(work, "Running", f"attempt {number} running in Job {name}")
    _ready(work, "DependenciesMet", "dependencies met; dispatched", now)
    _condition(work, conditions.SUCCEEDED, "Unknown", "Running", f"attempt {number} running", now)
    return Dispatch(
        key=work.entry.key,
        job=manifest,
        profile=route.profile_name,
        scope=work.scope,
        latency_seconds=latency,
        status_before=before,
    )


def status_after_failed_create(
    dispatch: Dispatch, error: str, generation: int | None, now: datetime.datetime
) -> models.AgentTaskStatus:
    """The task's status when its Job could not be created: queued, with the API's answer."""
    status = dispatch.status_before.model_copy(deep=True)
    status.phase = "Queued"
    status.message = f"could not create the attempt Job: {error}"[:4096]
    status.conditions = conditions.set_condition(
        status.conditions,
        type=conditions.READY,
        status="True",
        reason="JobCreateFailed",
        message=status.message,
        generation=generation,
        now=now,
    )
    return status


# --------------------------------------------------------------------------- plans


def _circuits(
    works: list[_Work], snapshot: Snapshot, now: datetime.datetime, decision: Decision
) -> dict[ScopeKey, models.CircuitStatus]:
    outcomes: dict[ScopeKey, list[circuit.Outcome]] = defaultdict(list)
    scopes: set[ScopeKey] = set(snapshot.plans)
    for work in works:
        scopes.add(work.scope)
        for record in work.status.history:
            if record.outcome in ("Succeeded", "Failed"):
                done_at = clock.parse_time(record.completion_time)
                if done_at is not None:
                    outcomes[work.scope].append(
                        circuit.Outcome(completed=done_at, failed=record.outcome == "Failed")
                    )
    states: dict[ScopeKey, models.CircuitStatus] = {}
    for scope in scopes:
        entry = snapshot.plans.get(scope)
        previous = (
            entry.plan.status.circuit
            if entry is not None
            else snapshot.circuits.get(scope, models.CircuitStatus())
        )
        policy = (entry.plan.spec if entry else models.AgentPlanSpec()).circuit_breaker
        state = circuit.next_state(previous, outcomes[scope], policy=policy, now=now)
        states[scope] = state
        if entry is None:
            decision.circuits[scope] = state
        retry = clock.parse_time(state.retry_time)
        if state.state == "Open" and retry is not None:
            decision.wake_at(retry)
        if state.state != previous.state and entry is not None:
            opened = state.state == "Open"
            decision.events.append(
                Event(
                    namespace=scope[0],
                    kind="AgentPlan",
                    name=scope[1],
                    uid=entry.uid,
                    type="Warning" if opened else "Normal",
                    reason=f"Circuit{state.state}",
                    message=(
                        f"circuit breaker open after {state.consecutive_failures} failed "
                        f"attempts in a row; one trial attempt at {state.retry_time}"
                        if opened
                        else f"circuit breaker {state.state}"
                    ),
                )
            )
    return states


def _owner_references(works: list[_Work], snapshot: Snapshot, decision: Decision) -> None:
    """Each task of an existing plan gets a (non-controller) ownerReference to it."""
    for work in works:
        if not work.spec.plan:
            continue
        entry = snapshot.plans.get((work.namespace, work.spec.plan))
        if entry is None:
            continue
        existing = [dict(ref) for ref in (work.meta.model_extra or {}).get("ownerReferences") or []]
        if any(ref.get("uid") == entry.uid for ref in existing):
            continue
        existing.append(
            {
                "apiVersion": models.API_VERSION,
                "kind": "AgentPlan",
                "name": work.spec.plan,
                "uid": entry.uid,
                "blockOwnerDeletion": False,
            }
        )
        decision.owner_refs[work.entry.key] = existing


def _plan_statuses(
    works: list[_Work],
    snapshot: Snapshot,
    circuits: dict[ScopeKey, models.CircuitStatus],
    decision: Decision,
    now: datetime.datetime,
) -> None:
    members: dict[ScopeKey, list[_Work]] = defaultdict(list)
    for work in works:
        members[work.scope].append(work)
    for scope, entry in snapshot.plans.items():
        plan = entry.plan
        counts = models.PhaseCounts()
        for work in members.get(scope, []):
            phase = (work.status.phase or "Pending").lower()
            setattr(counts, phase, getattr(counts, phase) + 1)
        total = len(members.get(scope, []))
        state = circuits.get(scope, models.CircuitStatus())
        status = plan.status.model_copy(deep=True)
        status.counts = counts
        status.total = total
        status.progress = f"{counts.succeeded}/{total}"
        status.running = counts.running
        status.failed = counts.failed
        status.circuit = state
        status.observed_generation = plan.metadata.generation
        gen = plan.metadata.generation
        if state.state == "Closed":
            status.conditions = conditions.set_condition(
                status.conditions,
                type=conditions.CIRCUIT_OPEN,
                status="False",
                reason="Closed",
                message=f"{state.consecutive_failures} failed attempts in a row",
                generation=gen,
                now=now,
            )
        else:
            status.conditions = conditions.set_condition(
                status.conditions,
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
        status.conditions = conditions.set_condition(
            status.conditions,
            type=conditions.COMPLETE,
            status="True" if complete else "False",
            reason="AllSucceeded" if complete else "InProgress",
            message=f"{counts.succeeded} of {total} tasks succeeded",
            generation=gen,
            now=now,
        )
        decision.plan_statuses[scope] = status


def _transition_event(work: _Work, decision: Decision) -> None:
    before = work.entry.task.status.phase
    after = work.status.phase
    if before == after:
        return
    ready = conditions.find(work.status.conditions, conditions.READY)
    warning = after in ("Failed", "Retrying") or (
        after == "Blocked"
        and ready is not None
        and ready.reason
        in (
            "DependencyMissing",
            "DependencyFailed",
            "Cycle",
            "ProfileNotFound",
            "SecretMissing",
        )
    )
    decision.events.append(
        Event(
            namespace=work.namespace,
            kind="AgentTask",
            name=work.meta.name or "",
            uid=work.meta.uid or "",
            type="Warning" if warning else "Normal",
            reason=after or "Pending",
            message=(work.status.message or after or "")[:1024],
        )
    )
