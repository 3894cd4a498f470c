"""Attempts: bringing a task's attempt records in line with its Jobs, recording how an
attempt ended, and the retry policy that follows a failure."""

from __future__ import annotations

import datetime

from agent_api import failures, models, report, timefmt

from agent_operator import backoff, conditions, jobs, results
from agent_operator.scheduling import budgets, reasons, reviews
from agent_operator.scheduling.decisions import (
    START_RECHECK,
    Cancel,
    Decision,
    FinishedAttempt,
    Release,
    ReviewOutcome,
)
from agent_operator.scheduling.progress import HISTORY_LIMIT, TaskProgress
from agent_operator.scheduling.snapshot import Snapshot, running_record


def reconcile(
    task: TaskProgress, snapshot: Snapshot, decision: Decision, now: datetime.datetime
) -> None:
    """Adopts Jobs whose creation was not recorded, ends attempts whose Job finished or
    vanished, cancels attempts of suspended or done tasks, and deletes stray Jobs."""
    _adopt_unrecorded_jobs(task, now)
    record = running_record(task.status)
    if record is not None:
        _follow_running_attempt(task, record, snapshot, decision, now)
    current = task.status.current_job if task.running else None
    for other in task.jobs:
        if (
            other.active
            and other.name != current
            and not any(
                c.job == other.name and c.namespace == other.namespace for c in decision.cancels
            )
        ):
            decision.cancels.append(
                Cancel(task.namespace, other.name, "not the task's current attempt")
            )
    if task.running:
        task.status.phase = "Running"


def _adopt_unrecorded_jobs(task: TaskProgress, now: datetime.datetime) -> None:
    """A Job created by a pass whose status write never landed becomes the current attempt."""
    status = task.status
    known = max((r.number for r in status.history), default=0)
    for found in sorted(task.jobs, key=lambda j: j.attempt):
        if found.attempt > known and not found.deleting:
            started = timefmt.format_time(found.created or now)
            status.history.append(
                models.AttemptRecord(
                    number=found.attempt,
                    job=found.name,
                    start_time=started,
                    allowance_usd=found.allowance_usd,
                )
            )
            status.attempts += 1
            status.current_job = found.name
            status.agent_profile = found.profile or status.agent_profile
            status.start_time = status.start_time or started
            known = found.attempt
    del status.history[:-HISTORY_LIMIT]


def _follow_running_attempt(
    task: TaskProgress,
    record: models.AttemptRecord,
    snapshot: Snapshot,
    decision: Decision,
    now: datetime.datetime,
) -> None:
    job: jobs.JobView | None = next((j for j in task.jobs if j.name == record.job), None)
    stop = task.spec.suspend or task.spec.done
    if job is None or (job.deleting and job.finished is None):
        if job is None and (task.namespace, record.job) not in snapshot.missing_jobs:
            task.running = True  # the cache may be behind; confirmed next pass
        elif stop:
            finish(task, record, "Cancelled", cancel_reason(task), None, None, decision, now)
        else:
            summary = f"Job {record.job} was deleted before the attempt finished"
            result = models.TaskResult(summary=summary, reason=failures.JOB_DELETED)
            finish(task, record, "Failed", failures.JOB_DELETED, result, None, decision, now)
        return
    if job.finished is None:
        if stop:
            decision.cancels.append(Cancel(task.namespace, job.name, cancel_reason(task)))
            finish(task, record, "Cancelled", cancel_reason(task), None, None, decision, now)
        elif not job.started:
            _watch_start(task, record, job, snapshot, decision, now)
        else:
            task.running = True
        return
    report_key = (job.namespace, job.name)
    if report_key not in snapshot.reports:
        task.running = True  # its pod is read before the next pass
        return
    pod = snapshot.reports[report_key]
    result = report.parse_report(pod.message if pod else None)
    if job.finished == "Complete":
        finish(task, record, "Succeeded", None, result, job.completed, decision, now)
        return
    if job.failure_reason == failures.DEADLINE_EXCEEDED:
        reason = failures.DEADLINE_EXCEEDED
        if result.summary == report.NO_REPORT:
            result.summary = (
                f"the attempt exceeded its timeout of {task.spec.timeout_seconds}s "
                "(spec.timeoutSeconds)"
            )
    elif pod is None:
        reason = failures.POD_DELETED  # no pod left while its Job exists: deleted under it
    else:
        reason = results.failure_reason(pod, result)
    if reason == failures.OUT_OF_MEMORY and pod is not None:
        result.summary = (
            f"the agent container ran out of memory and was killed (memory limit "
            f"{pod.memory_limit or 'not set'}): raise the profile's resources.limits.memory "
            "or set its retryMemoryFactor"
        )
    result.reason = reason
    finish(task, record, "Failed", reason, result, job.completed, decision, now)


def _watch_start(
    task: TaskProgress,
    record: models.AttemptRecord,
    job: jobs.JobView,
    snapshot: Snapshot,
    decision: Decision,
    now: datetime.datetime,
) -> None:
    """An attempt whose pod has not started: its cause shows in the task's message at
    once; past the profile's startTimeoutSeconds the attempt ends with it as the reason."""
    problem = snapshot.start_problems.get((job.namespace, job.name))
    started_at = timefmt.parse_time(record.start_time) or now
    deadline = started_at + datetime.timedelta(seconds=job.start_timeout_seconds)
    if now < deadline:
        task.running = True
        if problem is not None:
            task.status.message = (
                f"attempt {record.number} has not started: {problem.message}; it ends at "
                f"{timefmt.format_time(deadline)} unless it starts"
            )[:4096]
        decision.wake_at(min(deadline, now + START_RECHECK))
        return
    reason = problem.reason if problem is not None else failures.START_TIMEOUT
    why = problem.message if problem is not None else "the pod never started"
    summary = (
        f"attempt {record.number} did not start within {job.start_timeout_seconds}s "
        f"(the profile's startTimeoutSeconds): {why}"
    )
    decision.cancels.append(Cancel(task.namespace, job.name, summary))
    result = models.TaskResult(summary=summary, reason=reason)
    finish(task, record, "Failed", reason, result, None, decision, now)


def releases(tasks: list[TaskProgress], snapshot: Snapshot, decision: Decision) -> None:
    """Finished attempt Jobs whose result the task's status (as the API has it) records,
    and Jobs whose task is gone, let go of their result finalizer."""
    by_uid = {t.meta.uid: t for t in tasks if t.meta.uid}
    for views in snapshot.jobs.values():
        for job in views:
            if not job.holds_result:
                continue
            owner = by_uid.get(job.owner_uid) if job.owner_uid else None
            if owner is None:
                if job.owner_uid is not None:  # its task was deleted
                    decision.releases.append(Release(job.namespace, job.name))
                continue
            recorded = owner.entry.task.status.history
            outcome = next((r.outcome for r in recorded if r.job == job.name), None)
            newest = max((r.number for r in recorded), default=0)
            if outcome is not None and outcome != "Running":
                decision.releases.append(Release(job.namespace, job.name))
            elif outcome is None and job.attempt < newest - len(recorded) + 1:
                decision.releases.append(Release(job.namespace, job.name))  # aged out


def cancel_reason(task: TaskProgress) -> str:
    return reasons.CANCELLED_MARKED_DONE if task.spec.done else reasons.CANCELLED_SUSPENDED


def max_retries(task: TaskProgress) -> int:
    """The task's own maxRetries, else its plan's."""
    if task.spec.max_retries is not None:
        return task.spec.max_retries
    return task.plan_spec.retry.max_retries


def finish(
    task: TaskProgress,
    record: models.AttemptRecord,
    outcome: str,
    reason: str | None,
    result: models.TaskResult | None,
    completed: datetime.datetime | None,
    decision: Decision,
    now: datetime.datetime,
) -> None:
    """Records the end of the running attempt and what follows from it."""
    status = task.status
    finished_at = completed or now
    if outcome == "Succeeded" and (missing := reviews.missing_pull(task, result)) is not None:
        outcome, reason = "Failed", failures.NO_PULL_REQUEST
        base = result or models.TaskResult()
        result = base.model_copy(
            update={
                "reason": reason,
                "summary": f"{missing}\n\n{base.summary}".strip()[: report.MAX_SUMMARY_CHARS],
            }
        )
    cost = budgets.record_spend(status, result, now)
    record = record.model_copy(
        update={
            "outcome": outcome,
            "completion_time": timefmt.format_time(finished_at),
            "reason": reason,
            "cost_usd": cost if result is not None else None,
        }
    )
    status.history[-1] = record  # the running record is always the newest
    # The Job keeps its result finalizer until the API has this record (`releases`): ask
    # for the pass after this one's writes at once, not at the next event or idle wake.
    decision.wake_at(now)
    status.current_job = None
    status.queued_time = None
    started = timefmt.parse_time(record.start_time)
    duration = (finished_at - started).total_seconds() if started else None
    retried = False
    if outcome == "Succeeded":
        if result is not None and result.pr_number is not None:
            decision.reviews.append(ReviewOutcome(task.scope, "reported"))
        if not reviews.await_merge(task, record, result, finished_at, now):
            _succeeded(task, record, result, finished_at, now)
    elif outcome == "Failed":
        retried = _failed(task, record, reason, result, finished_at, decision, now)
    else:
        status.phase = None  # settled again (suspended or done)
    decision.finished.append(
        FinishedAttempt(
            scope=task.scope,
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
    task.running = False


def _succeeded(
    task: TaskProgress,
    record: models.AttemptRecord,
    result: models.TaskResult | None,
    finished_at: datetime.datetime,
    now: datetime.datetime,
) -> None:
    status = task.status
    status.result = result
    status.phase = "Succeeded"
    status.completion_time = timefmt.format_time(finished_at)
    status.next_attempt_time = None
    status.message = (
        f"attempt {record.number} succeeded: {(result.summary if result else '')[:300]}"
    )
    task.set_condition(conditions.SUCCEEDED, "True", reasons.ATTEMPT_SUCCEEDED, status.message, now)


def _failed(
    task: TaskProgress,
    record: models.AttemptRecord,
    reason: str | None,
    result: models.TaskResult | None,
    finished_at: datetime.datetime,
    decision: Decision,
    now: datetime.datetime,
) -> bool:
    """Fails the task or schedules its retry; True when it will be retried."""
    status = task.status
    status.result = result
    if reason in failures.NOT_THE_AGENTS:
        return _disrupted(task, record, reason, finished_at, decision, now)
    status.failed_attempts += 1
    allowed = max_retries(task)
    if not failures.is_retried(reason) or status.failed_attempts > allowed:
        why = (
            f"attempt {record.number} failed with {reason}, which a retry cannot fix"
            if not failures.is_retried(reason)
            else f"attempt {record.number} failed ({reason}); all {allowed} retries used"
        )
        if result and result.summary:
            why = f"{why}: {result.summary[:300]}"
        status.phase = "Failed"
        status.completion_time = timefmt.format_time(finished_at)
        status.next_attempt_time = None
        status.message = why
        task.set_condition(conditions.SUCCEEDED, "False", reason or "Failed", why, now)
        return False
    delay = backoff.retry_delay_seconds(
        failed_attempts=status.failed_attempts,
        base_seconds=task.plan_spec.retry.backoff_base_seconds,
        cap_seconds=task.plan_spec.retry.backoff_cap_seconds,
    )
    due = now + datetime.timedelta(seconds=delay)
    status.next_attempt_time = timefmt.format_time(due)
    status.phase = "Retrying"
    status.message = f"attempt {record.number} failed ({reason}); retry in {delay:g}s"
    decision.wake_at(due)
    return True


MAX_DISRUPTIONS = 5  # a flapping node cannot loop a task forever
DISRUPTION_RETRY = datetime.timedelta(seconds=5)


def _disrupted(
    task: TaskProgress,
    record: models.AttemptRecord,
    reason: str,
    finished_at: datetime.datetime,
    decision: Decision,
    now: datetime.datetime,
) -> bool:
    """The cluster ended the attempt: a new one soon, not counted against maxRetries."""
    status = task.status
    status.disruptions += 1
    if status.disruptions > MAX_DISRUPTIONS:
        why = (
            f"attempt {record.number} was ended by the cluster ({reason}); "
            f"{status.disruptions} attempts in a row were, so the task stops: check the "
            "nodes (drains, preemption, evictions)"
        )
        status.phase = "Failed"
        status.completion_time = timefmt.format_time(finished_at)
        status.next_attempt_time = None
        status.message = why
        task.set_condition(conditions.SUCCEEDED, "False", reason, why, now)
        return False
    due = now + DISRUPTION_RETRY
    status.next_attempt_time = timefmt.format_time(due)
    status.phase = "Retrying"
    status.message = (
        f"attempt {record.number} was ended by the cluster ({reason}): it does not count "
        f"as a failure; a new attempt starts at {status.next_attempt_time}"
    )
    decision.wake_at(due)
    return True


def out_of_memory_in_a_row(status: models.AgentTaskStatus) -> int:
    """How many of the newest attempts ran out of memory."""
    count = 0
    for record in reversed(status.history):
        if record.outcome == "Running":
            continue
        if record.reason != failures.OUT_OF_MEMORY:
            break
        count += 1
    return count


def last_failure_reason(status: models.AgentTaskStatus) -> str:
    for record in reversed(status.history):
        if record.outcome == "Failed":
            return record.reason or "Failed"
    return "Failed"
