"""The dispatcher: one asyncio task that waits for a reason and runs a scheduling pass.

kopf's watch events fill the cache and wake it; bursts of events coalesce into one pass.
Each pass re-evaluates the whole snapshot (level-based), so nothing depends on which event
woke it. It also wakes on its own for backoff ends, circuit cool-downs and refused Jobs,
and re-lists everything now and then as a guard against missed events. What a pass does is
composed of: the leadership gate (may this replica write?), the gatherer (inputs beyond the
cache), `scheduling.decide` (pure), the actuator (the writes) and the metrics recording.

`decide` runs in a worker thread, so the event loop (watch events, the health endpoint,
the Lease) keeps answering during a long pass; the pass gets a time budget for matching
routing rules, and routes are cached between passes (`routing.RouteCache`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Callable

from agent_operator import (
    actuator,
    api,
    clock,
    egress,
    eventing,
    gathering,
    leadership,
    metrics,
    podreports,
    recording,
    relisting,
    routing,
    scheduling,
)
from agent_operator import store as store_module

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.02
IDLE_WAKE_SECONDS = 30.0
FAILED_PASS_PAUSE_SECONDS = 1.0


class Dispatcher:
    """Runs passes while this replica leads; see the module docstring."""

    def __init__(
        self,
        *,
        client: api.ClusterApi,
        store: store_module.Store,
        config: scheduling.Config,
        namespaces: list[str] | None,  # None: every namespace
        elector: leadership.Elector | None = None,  # None: standalone, always leading
        resync_seconds: float = 300.0,
        pass_budget_seconds: float = 5.0,
        egress_policy: egress.EgressConfig | None = None,  # None: keep no egress policy
        now: clock.Clock = clock.system_clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._store = store
        self._config = config
        self._namespaces = namespaces
        self._resync_seconds = resync_seconds
        self._pass_budget_seconds = pass_budget_seconds
        self.routes = routing.RouteCache()
        self._now = now
        self._monotonic = monotonic
        self._wake = asyncio.Event()
        self.next_wake: datetime.datetime | None = None
        self._synced: tuple[int, float] | None = None  # (leadership term, when) of the relist
        self.gate = leadership.LeadershipGate(elector, on_change=self.wake, monotonic=monotonic)
        self.pod_reports = podreports.PodReports()  # fed by the pod watch (handlers)
        self.gatherer = gathering.Gatherer(
            client=client,
            store=store,
            config=config,
            monotonic=monotonic,
            now=now,
            pod_reports=self.pod_reports,
        )
        self.events = eventing.EventPoster(client)
        self.actuator = actuator.Actuator(
            client=client,
            store=store,
            events=self.events,
            egress=egress.Keeper(client, egress_policy, monotonic=monotonic)
            if egress_policy is not None
            else None,
        )

    def wake(self) -> None:
        """Asks for a pass soon (called by the watch handlers)."""
        self._wake.set()

    async def run(self) -> None:
        """Forever: wait for a reason, then pass if leading. Errors never end the loop."""
        helpers = [
            asyncio.create_task(self.gate.run(), name="leader-election"),
            asyncio.create_task(self.events.run(), name="event-posters"),
        ]
        try:
            await self._loop()
        finally:
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await helper

    async def _loop(self) -> None:
        while True:
            await self._wait()
            try:
                if not self.gate.leading():
                    continue
                if self._relist_due():
                    await self.resync()
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("scheduling pass failed; retrying shortly")
                await asyncio.sleep(FAILED_PASS_PAUSE_SECONDS)
                self._wake.set()

    def _relist_due(self) -> bool:
        if self._synced is None:
            return True
        term, when = self._synced
        return term != self.gate.term or self._monotonic() - when > self._resync_seconds

    async def _wait(self) -> None:
        timeout = IDLE_WAKE_SECONDS
        if self.next_wake is not None:
            timeout = min(timeout, max(0.0, (self.next_wake - self._now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        await asyncio.sleep(COALESCE_SECONDS)  # let a burst of events land in the cache
        self._wake.clear()

    async def resync(self) -> None:
        """Lists every kind from the API server and merges it into the cache."""
        await relisting.relist(self._client, self._store, self._namespaces)
        self._synced = (self.gate.term, self._monotonic())

    async def run_pass(self) -> scheduling.Decision:
        """One scheduling pass over the whole cache, and carrying out its decisions."""
        started = time.perf_counter()
        snapshot = self._store.snapshot()
        await self.gatherer.gather(snapshot)
        now = self._now()
        deadline = time.monotonic() + self._pass_budget_seconds
        decision = await asyncio.to_thread(
            scheduling.decide,
            snapshot,
            self._config,
            now,
            routes=self.routes,
            out_of_time=lambda: time.monotonic() > deadline,
        )
        if decision.deferred:
            logger.info(
                "routing took the whole pass budget of %gs: %d tasks are routed next pass",
                self._pass_budget_seconds,
                decision.deferred,
            )
        retry_at = await self.actuator.apply(
            snapshot, decision, now, still_leading=self.gate.leading
        )
        self.next_wake = _earliest(decision.next_wake, retry_at)
        self.gatherer.remember_circuits(decision.circuits)
        recording.record_pass(decision)
        metrics.PASS_SECONDS.observe(time.perf_counter() - started)
        return decision


def _earliest(*moments: datetime.datetime | None) -> datetime.datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None
