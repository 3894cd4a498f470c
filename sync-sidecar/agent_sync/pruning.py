"""Pruning safely: which tasks that left the file are held, marked, deleted or restored. Pure.

A task whose line left the file is not deleted at once. It is *marked*: suspended (so a
running attempt is cancelled by the operator, recorded as Cancelled, not killed by the
garbage collector) and annotated with the time, through a field manager of its own
(`agent-sync-prune`). It is deleted when the grace period is over. A line restored
within the grace period releases those two fields, so the same object comes back with
everything people had set on it (a suspend a person had set stays: server-side apply
keeps a field another manager also owns).

A sync that would mark more than a share of the plan's tasks (default: more than half,
and always all of them) is *held*: nothing is marked until a person says it is
intended (`agent-sync run --allow-mass-prune` once, or the plan annotation
`orchestration.coditect.ai/allow-mass-prune: "true"`, which the sidecar removes once used).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_api import models, timefmt

PRUNE_MANAGER = "agent-sync-prune"
PRUNED_AT = f"{models.GROUP}/pruned-at"  # on a marked task: when its line left the file
ALLOW_MASS_PRUNE = f"{models.GROUP}/allow-mass-prune"  # on the plan: a held prune may run
CONDITION = "PruneHeld"  # the plan's condition while a mass prune is held
HELD_REASON = "MassPrune"
NOT_HELD_REASON = "NothingHeld"


@dataclass(frozen=True)
class Policy:
    share: float = 0.5  # a sync may mark at most this share of the plan's tasks
    grace_seconds: float = 300.0  # how long a marked task waits before it is deleted


@dataclass(frozen=True)
class Held:
    """A mass prune that waits for a person."""

    count: int  # tasks the sync would mark
    total: int  # the plan's tasks (the sidecar's, not already marked)

    def message(self, plan: str) -> str:
        return (
            f"the file no longer names {self.count} of the plan's {self.total} tasks: pruning "
            f"them is held (more than the allowed share, or all of them). If the file is wrong, "
            f"restore it. If the prune is intended, run `agent-sync run --allow-mass-prune` once, "
            f"or `kubectl annotate agentplan {plan} {ALLOW_MASS_PRUNE}=true`"
        )


@dataclass(frozen=True)
class Decision:
    mark: tuple[str, ...] = ()  # suspend and annotate: their line left the file
    delete: tuple[str, ...] = ()  # marked, and the grace period is over
    restore: tuple[str, ...] = ()  # marked, and their line is back
    held: Held | None = None
    used_permission: bool = False  # the permission was needed for this sync's marks


def pruned_at(live: Mapping[str, Any]) -> datetime.datetime | None:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(PRUNED_AT)
    if text is None:
        return None
    # A malformed time counts as "long ago": the task was marked, its grace is over.
    return timefmt.parse_time(text) or datetime.datetime.min.replace(tzinfo=datetime.UTC)


def decide(
    *,
    leaving: Sequence[str],  # the sidecar's tasks whose line is gone (reconcile.changes.prune)
    wanted: Sequence[str],  # the names the file stands for
    live: Mapping[str, Mapping[str, Any]],
    ours: Sequence[str],  # the names of every live task the sidecar created for the plan
    policy: Policy,
    allowed: bool,  # a person allowed a mass prune (flag or plan annotation)
    now: datetime.datetime,
) -> Decision:
    restore = tuple(sorted(n for n in wanted if n in live and pruned_at(live[n]) is not None))
    marked = {n: pruned_at(live[n]) for n in leaving if pruned_at(live[n]) is not None}
    grace = datetime.timedelta(seconds=policy.grace_seconds)
    delete = tuple(sorted(n for n, at in marked.items() if at is not None and now - at >= grace))
    new = tuple(sorted(n for n in leaving if n not in marked))
    total = sum(1 for n in ours if pruned_at(live[n]) is None)
    mass = bool(new) and (len(new) >= total or len(new) > policy.share * total)
    if mass and not allowed:
        return Decision(delete=delete, restore=restore, held=Held(len(new), total))
    return Decision(mark=new, delete=delete, restore=restore, used_permission=mass)
