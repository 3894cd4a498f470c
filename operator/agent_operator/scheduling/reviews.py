"""Merge gates: what a plan's `spec.review` asks of a task whose repository names a forge.

- `none`: a successful attempt is the task's success, as without a forge.
- `pr-open`: the attempt must report its pull request (the runner opens one after every
  successful attempt); one that reports none fails as NoPullRequest.
- `merged`: the task then waits in `AwaitingReview`; the gatherer asks the forge about the
  pull request (`Snapshot.reviews`), and the task becomes `Succeeded` once it is merged,
  `Rejected` once it is closed without merge. Dependents count it as done only when
  Succeeded; a Rejected task is not retried by itself (a rerun starts it again, and the
  runner gives the agent the reviewers' comments).

Pure functions of the pass's task and snapshot.
"""

from __future__ import annotations

import datetime

from agent_api import models, timefmt

from agent_operator import conditions
from agent_operator.scheduling import reasons
from agent_operator.scheduling.decisions import Decision, ReviewOutcome
from agent_operator.scheduling.progress import TaskProgress
from agent_operator.scheduling.snapshot import Snapshot

FIRST_LOOK = datetime.timedelta(seconds=1)  # a new pull request is looked at next pass


def gated(task: TaskProgress) -> bool:
    """Whether the plan's review setting applies: a repository on a forge, review set."""
    repository = task.spec.repository
    return (
        task.plan_spec.review != "none"
        and repository is not None
        and repository.forge is not None
    )


def missing_pull(task: TaskProgress, result: models.TaskResult | None) -> str | None:
    """Why a successful attempt does not count: the review needs a pull request and the
    report names none. None when it counts."""
    if not gated(task) or (result is not None and result.pr_number is not None):
        return None
    return (
        f"the attempt succeeded but reported no pull request, which spec.review "
        f"{task.plan_spec.review!r} of the plan needs (is the runner image current?)"
    )


def await_merge(
    task: TaskProgress,
    record: models.AttemptRecord,
    result: models.TaskResult | None,
    finished_at: datetime.datetime,
    now: datetime.datetime,
) -> bool:
    """A successful attempt of a task whose plan wants its pull request merged: the task
    waits in AwaitingReview. False when the plan wants no such thing."""
    if not gated(task) or task.plan_spec.review != "merged":
        return False
    if result is None or result.pr_number is None:
        return False
    status = task.status
    status.result = result
    status.phase = "AwaitingReview"
    status.next_attempt_time = None
    status.completion_time = None
    status.review = models.ReviewStatus(
        state="open",
        url=result.pr_url,
        number=result.pr_number,
        opened_time=timefmt.format_time(finished_at),
    )
    status.message = (
        f"attempt {record.number} succeeded; waiting for pull request #{result.pr_number} "
        f"to be merged: {result.pr_url or ''}"
    ).strip()
    task.set_condition(
        conditions.SUCCEEDED, "Unknown", reasons.AWAITING_REVIEW, status.message, now
    )
    return True


def follow(
    task: TaskProgress, snapshot: Snapshot, decision: Decision, now: datetime.datetime
) -> None:
    """A task in AwaitingReview: Succeeded once its pull request is merged, Rejected once it
    is closed without merge; otherwise it waits, and the pass asks to be woken for the
    gatherer's next look."""
    status = task.status
    if task.running or not task.terminal or status.phase != "AwaitingReview":
        return
    if not gated(task) or task.plan_spec.review != "merged":
        status.phase = "Succeeded"
        status.completion_time = status.completion_time or timefmt.format_time(now)
        status.message = "the plan no longer waits for a merge (spec.review); succeeded"
        task.set_condition(
            conditions.SUCCEEDED, "True", reasons.ATTEMPT_SUCCEEDED, status.message, now
        )
        return
    review = status.review or models.ReviewStatus(
        url=status.result.pr_url if status.result else None,
        number=status.result.pr_number if status.result else None,
    )
    seen = snapshot.reviews.get(task.entry.key)
    if seen is None:
        status.review = review
        decision.wake_at(now + FIRST_LOOK)
        return
    review = review.model_copy(
        update={"checked_time": timefmt.format_time(seen.checked), "message": seen.problem}
    )
    label = f"pull request #{review.number}"
    opened = timefmt.parse_time(review.opened_time)
    under_review = (now - opened).total_seconds() if opened else None
    if seen.state == "merged":
        merged = seen.merged_at or timefmt.format_time(now)
        status.review = review.model_copy(update={"state": "merged", "merged_time": merged})
        status.phase = "Succeeded"
        status.completion_time = merged
        status.message = f"{label} was merged: {review.url or ''}".strip()
        task.set_condition(
            conditions.SUCCEEDED, "True", reasons.PULL_REQUEST_MERGED, status.message, now
        )
        decision.reviews.append(ReviewOutcome(task.scope, "merged", under_review))
        return
    if seen.state == "closed":
        status.review = review.model_copy(update={"state": "closed"})
        status.phase = "Rejected"
        status.completion_time = timefmt.format_time(now)
        status.message = (
            f"{label} was closed without merge; set spec.rerun (or untick the task in the "
            "markdown) to run it again with the reviewers' comments"
        )
        task.set_condition(
            conditions.SUCCEEDED, "False", reasons.PULL_REQUEST_CLOSED, status.message, now
        )
        decision.reviews.append(ReviewOutcome(task.scope, "rejected", under_review))
        return
    status.review = review
    decision.wake_at(seen.next_check)

