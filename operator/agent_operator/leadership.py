"""Which replica dispatches: the holder of a coordination.k8s.io Lease.

Every replica watches and keeps its cache warm; only the Lease holder runs passes. The
election itself (taking, renewing and releasing the Lease, judging its expiry by when this
replica last saw the holder renew, as client-go does) is `agent_kube.election`; this gate
renews it in the background, waits a short grace after gaining it (so that a previous
leader that just lost it has stopped writing), and is asked again before each batch of
writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from agent_operator import metrics

logger = logging.getLogger(__name__)

GRACE_SECONDS = 2.0


class Elector(Protocol):
    """A Lease election (agent_kube.election.LeaderElector); its calls block."""

    def try_hold(self) -> bool: ...

    def is_leader(self) -> bool: ...

    def release(self) -> None: ...


class LeadershipGate:
    """Says whether this replica may dispatch now; `elector=None` runs standalone."""

    def __init__(
        self,
        elector: Elector | None,
        *,
        renew_seconds: float | None = None,  # None: the elector's renew_interval, else 5 s
        grace_seconds: float = GRACE_SECONDS,
        on_change: Callable[[], None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._elector = elector
        # A renewal every third of the lease duration keeps a healthy leader well inside it.
        self._renew_seconds = (
            renew_seconds if renew_seconds is not None else _renew_interval(elector)
        )
        self._grace_seconds = grace_seconds
        self._on_change = on_change
        self._monotonic = monotonic
        self._held_since: float | None = None
        self._grace_wake: asyncio.TimerHandle | None = None
        self.term = 0  # counts the times this replica gained the lead

    def leading(self) -> bool:
        """True while this replica holds the Lease, past the grace, and its last renewal is
        still within the Lease's duration."""
        if self._elector is None:
            return True
        if self._held_since is None:
            return False
        if self._monotonic() - self._held_since < self._grace_seconds:
            return False
        return self._elector.is_leader()

    async def run(self) -> None:
        """Takes and renews the Lease until cancelled; releases it on the way out."""
        if self._elector is None:
            metrics.LEADER.set(1)
            return
        elector = self._elector
        try:
            while True:
                try:
                    held = await asyncio.to_thread(elector.try_hold)
                except Exception as error:  # the API server may be away for a while
                    logger.warning("could not renew the leader Lease: %s", error)
                    held = elector.is_leader()
                self.observe(held)
                await asyncio.sleep(self._renew_seconds)
        finally:
            if self._held_since is not None:
                logger.info("stopping: releasing the leader Lease")
                try:
                    await asyncio.to_thread(elector.release)
                except Exception as error:
                    logger.warning("could not release the leader Lease: %s", error)
            self.observe(False, stopping=True)

    def observe(self, held: bool, *, stopping: bool = False) -> None:
        """Records the election's answer; wakes the dispatcher when leadership changes."""
        if held and self._held_since is None:
            self._held_since = self._monotonic()
            self.term += 1
            logger.info("leading: dispatching starts in %.0fs", self._grace_seconds)
            metrics.LEADER.set(1)
            self._on_change()
            self._grace_wake = asyncio.get_running_loop().call_later(
                self._grace_seconds, self._on_change
            )
        elif not held and self._held_since is not None:
            self._held_since = None
            if self._grace_wake is not None:
                self._grace_wake.cancel()
            if not stopping:
                logger.info("lost the leader Lease to another replica: dispatching stops")
            metrics.LEADER.set(0)
            metrics.clear_leader_gauges()  # the leader reports them; stale copies would add up
            self._on_change()


def _renew_interval(elector: Elector | None) -> float:
    interval = getattr(elector, "renew_interval", None)
    return float(interval) if isinstance(interval, int | float) else 5.0
