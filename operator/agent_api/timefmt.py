"""RFC 3339 times as Kubernetes writes them, in one place for every program.

Status times and a Lease's MicroTime both carry six fractional digits in UTC
(`2025-01-02T03:04:05.000006Z`); the API server accepts nothing looser for MicroTime.
"""

from __future__ import annotations

import datetime
import functools


@functools.lru_cache(maxsize=64)  # a pass writes the same `now` into thousands of statuses
def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with exactly six fractional digits and a `Z`."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_seconds(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC to the second (an Event's `firstTimestamp`, a Time field)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime.datetime | None:
    """An RFC 3339 time as Kubernetes writes it; None for a missing or malformed value.

    A time without an offset is taken as UTC.
    """
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def now_utc() -> datetime.datetime:
    """The current wall-clock time in UTC (the default clock of every program)."""
    return datetime.datetime.now(datetime.UTC)


def now_text() -> str:
    """The current time, formatted by `format_time`."""
    return format_time(now_utc())
