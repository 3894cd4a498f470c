"""Time, injected: the scheduler never reads the wall clock itself, so tests can set it.

Formatting and parsing live in `agent_api.timefmt`, shared with the sidecar and the Lease.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from agent_api import timefmt

Clock = Callable[[], datetime.datetime]

def system_clock() -> datetime.datetime:
    """The current UTC time; the operator's only source of `now`."""
    return timefmt.now_utc()
