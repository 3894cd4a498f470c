"""Settling: tasks that need no dispatch decision this pass (done, finished) and tasks a
person asked to run again (unmarked as done, or a new `spec.rerun`)."""

from __future__ import annotations

import datetime

from agent_api import models, timefmt

from agent_operator import conditions
from agent_operator.scheduling import reasons
from agent_operator.scheduling.progress import REVIEWED, TERMINAL, TaskProgress

MARKED_DONE_MESSAGE = "marked done (spec.done); not dispatched"


def settle(task: TaskProgress, now: datetime.datetime) -> None:
    """Marks done and finished tasks terminal, or starts a new run when one was asked for."""
    status = task.status
    spec = task.spec
    status.observed_generation = task.meta.generation
    if task.running:
        return
    succeeded = conditions.find(status.conditions, conditions.SUCCEEDED)
    was_marked_done = succeeded is not None and succeeded.reason == reasons.MARKED_DONE
    if spec.done:
        if _succeeded_by_a_run(task, succeeded):
            task.terminal = True  # a tick of work an agent did: its outcome stays
            return
        _mark_done(task, now)
        return
    if status.phase in TERMINAL or status.phase in REVIEWED or status.phase == "Cancelled":
        if was_marked_done or models.rerun_requested(spec.rerun, status.observed_rerun):
            _new_run(task, was_marked_done, now)
            return
        task.terminal = True


def _succeeded_by_a_run(task: TaskProgress, succeeded: models.Condition | None) -> bool:
    """Whether the current run succeeded through an attempt (not by being marked done).

    A box ticked after such a success (by the sync sidecar, by `render` output applied
    through GitOps, or by a person) must not turn the attempt's outcome, reason and result
    into "marked done"."""
    status = task.status
    return (
        status.phase == "Succeeded"
        and succeeded is not None
        and succeeded.status == "True"
        and succeeded.reason in (reasons.ATTEMPT_SUCCEEDED, reasons.PULL_REQUEST_MERGED)
        and not models.rerun_requested(task.spec.rerun, status.observed_rerun)
    )


def _mark_done(task: TaskProgress, now: datetime.datetime) -> None:
    status = task.status
    status.phase = "Succeeded"
    status.completion_time = status.completion_time or timefmt.format_time(now)
    status.next_attempt_time = None
    status.queued_time = None
    status.blocked_by = []
    status.observed_rerun = task.spec.rerun
    status.message = MARKED_DONE_MESSAGE
    task.set_condition(conditions.SUCCEEDED, "True", reasons.MARKED_DONE, status.message, now)
    task.set_condition(conditions.READY, "False", reasons.MARKED_DONE, status.message, now)
    task.terminal = True


def _new_run(task: TaskProgress, was_marked_done: bool, now: datetime.datetime) -> None:
    """A person unmarked the task or asked for it again: counts start over, history stays."""
    status = task.status
    status.attempts = 0
    status.failed_attempts = 0
    status.result = None if not was_marked_done else status.result
    status.review = None  # the runner reads the reviewers' comments from the forge
    status.start_time = None
    status.completion_time = None
    status.next_attempt_time = None
    status.queued_time = None
    status.phase = "Pending"
    status.observed_rerun = task.spec.rerun
    why = "unmarked as done" if was_marked_done else f"rerun {task.spec.rerun!r} requested"
    task.set_condition(conditions.SUCCEEDED, "Unknown", reasons.NEW_RUN, why, now)
