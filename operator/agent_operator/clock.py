"""Time, injected: the scheduler never reads the wall clock itself, so tests can set it."""

from __future__ import annotations

import datetime
from collections.abc import Callable

Clock = Callable[[], datetime.datetime]


def system_clock() -> datetime.datetime:
    """The current UTC time; the operator's only source of `now`."""
    return datetime.datetime.now(datetime.UTC)


def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with microseconds (status times need sub-second precision)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime.datetime | None:
    """Parses an RFC 3339 time as Kubernetes writes it; None for a missing or bad value."""
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
