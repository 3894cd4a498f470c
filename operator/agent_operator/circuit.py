"""The per-plan circuit breaker, recomputed from attempt history on every pass.

The count of consecutive failures is derived from the tasks' own attempt records (failed
attempts since the plan's last success, by completion time), so a restart neither loses nor
double-counts a failure. Only the open/retry times live in the plan's status.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable

from agent_api import models, timefmt


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One finished attempt, for the breaker: when it ended and whether it failed."""

    completed: datetime.datetime
    failed: bool


def consecutive_failures(outcomes: Iterable[Outcome]) -> tuple[int, datetime.datetime | None]:
    """Failed attempts after the newest success, and that success's time."""
    ordered = sorted(outcomes, key=lambda o: o.completed)
    count = 0
    last_success: datetime.datetime | None = None
    for outcome in ordered:
        if outcome.failed:
            count += 1
        else:
            count = 0
            last_success = outcome.completed
    return count, last_success


def next_state(
    previous: models.CircuitStatus,
    outcomes: list[Outcome],
    *,
    policy: models.CircuitBreakerPolicy,
    now: datetime.datetime,
) -> models.CircuitStatus:
    """The breaker after the attempts seen so far.

    Closed -> Open when `consecutiveFailures` attempts fail in a row. Open -> HalfOpen once
    the cool-down has passed (one trial attempt may start). A success completed after the
    circuit opened closes it; a failure completed after the trial became possible opens it
    again for another cool-down.
    """
    count, last_success = consecutive_failures(outcomes)
    opened = timefmt.parse_time(previous.opened_time)
    retry = timefmt.parse_time(previous.retry_time)
    if previous.state == "Closed" or opened is None:
        if count >= policy.consecutive_failures:
            return _open(count, now, policy)
        return models.CircuitStatus(state="Closed", consecutive_failures=count)
    if last_success is not None and last_success >= opened:
        return models.CircuitStatus(state="Closed", consecutive_failures=count)
    if retry is not None and any(o.failed and o.completed >= retry for o in outcomes):
        return _open(count, now, policy)
    if retry is not None and now >= retry:
        return models.CircuitStatus(
            state="HalfOpen",
            consecutive_failures=count,
            opened_time=previous.opened_time,
            retry_time=previous.retry_time,
        )
    return models.CircuitStatus(
        state="Open",
        consecutive_failures=count,
        opened_time=previous.opened_time,
        retry_time=previous.retry_time,
    )


def _open(
    count: int, now: datetime.datetime, policy: models.CircuitBreakerPolicy
) -> models.CircuitStatus:
    return models.CircuitStatus(
        state="Open",
        consecutive_failures=count,
        opened_time=timefmt.format_time(now),
        retry_time=timefmt.format_time(now + datetime.timedelta(seconds=policy.cooldown_seconds)),
    )
