"""Which replica dispatches: the one kopf's peering lets run.

kopf pauses a replica's watches when a live peer with a higher (or the same) priority is
in the peering object. The dispatcher is our own loop, so it reads the same peering object
and applies the same rule before every pass: it dispatches only while no other live peer
has a priority at least as high as its own. Each replica picks a distinct random priority.
"""

from __future__ import annotations

import datetime
from typing import Any

from agent_operator import clock


def leads(
    peering: dict[str, Any] | None, *, identity: str, priority: int, now: datetime.datetime
) -> bool:
    """True when this replica is alive in `peering` and outranks every other live peer."""
    if peering is None:
        return False
    peers = peering.get("status") or {}
    mine = peers.get(identity)
    if not isinstance(mine, dict) or not _alive(mine, now):
        return False
    for other, info in peers.items():
        if other == identity or not isinstance(info, dict) or not _alive(info, now):
            continue
        if int(info.get("priority", 0)) >= priority:
            return False
    return True


def _alive(info: dict[str, Any], now: datetime.datetime) -> bool:
    seen = clock.parse_time(info.get("lastseen"))
    if seen is None:
        return False
    lifetime = datetime.timedelta(seconds=int(info.get("lifetime", 60)))
    return seen + lifetime > now
