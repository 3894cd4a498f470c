"""The dispatcher: one asyncio task that runs scheduling passes and carries them out.

kopf's watch events fill the cache and wake the dispatcher; bursts of events coalesce into
one pass. Each pass re-evaluates the whole snapshot (level-based), so nothing depends on
which event woke it. It also wakes on its own for backoff ends and circuit cool-downs, and
re-lists everything now and then as a guard against missed events.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from agent_api import models

from agent_operator import clock, jobs, kube, leadership, metrics, patches, results, scheduling
from agent_operator import store as store_module

logger = logging.getLogger(__name__)

T = TypeVar("T")
_COALESCE_SECONDS = 0.02
_IDLE_WAKE_SECONDS = 30.0
_LEADERSHIP_GRACE_SECONDS = 2.0
_SECRET_TTL_SECONDS = 10.0
_WRITE_CONCURRENCY = 32
_EVENT_POSTERS = 4  # Events are best effort and must not slow dispatch down


class Dispatcher:
    """Runs passes while this replica leads; see the module docstring."""

    def __init__(
        self,
        *,
        client: kube.Kube,
        store: store_module.Store,
        config: scheduling.Config,
        namespaces: list[str] | None,  # None: every namespace
        peering_name: str | None,  # None: standalone, always leading
        priority: int,
        resync_seconds: float = 300.0,
        now: clock.Clock = clock.system_clock,
    ) -> None:
        self._client = client
        self._store = store
        self._config = config
        self._namespaces = namespaces
        self._peering_name = peering_name
        self._priority = priority
        self._resync_seconds = resync_seconds
        self._now = now
        self._wake = asyncio.Event()
        self._next_wake: datetime.datetime | None = None
        self._leading_since: float | None = None
        self._synced_at: float | None = None
        self._reports: dict[tuple[str, str], results.PodReport | None] = {}
        self._secrets: dict[tuple[str, str, str], tuple[float, str | None]] = {}
        self._circuits: dict[scheduling.ScopeKey, models.CircuitStatus] = {}
        self._events: asyncio.Queue[tuple[scheduling.Event, datetime.datetime]] = asyncio.Queue(
            maxsize=20000
        )
        self.passes = 0

    def wake(self) -> None:
        """Asks for a pass soon (called by the watch handlers)."""
        self._wake.set()

    async def run(self) -> None:
        """Forever: wait for a reason, then pass if leading. Errors never end the loop."""
        posters = [asyncio.create_task(self._post_events()) for _ in range(_EVENT_POSTERS)]
        try:
            await self._loop()
        finally:
            for poster in posters:
                poster.cancel()

    async def _post_events(self) -> None:
        while True:
            event, now = await self._events.get()
            await self._post_event(event, now)

    async def _loop(self) -> None:
        while True:
            await self._wait()
            try:
                if not await self._leading():
                    continue
                if self._synced_at is None or (
                    time.monotonic() - self._synced_at > self._resync_seconds
                ):
                    await self.resync()
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("scheduling pass failed; retrying shortly")
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _wait(self) -> None:
        timeout = _IDLE_WAKE_SECONDS
        if self._next_wake is not None:
            timeout = min(timeout, max(0.0, (self._next_wake - self._now()).total_seconds()))
        if self._peering_name is not None and self._leading_since is None:
            timeout = min(timeout, 1.0)  # a follower checks the peering every second
        if self._leading_since is not None and time.monotonic() - self._leading_since < (
            _LEADERSHIP_GRACE_SECONDS
        ):
            timeout = min(timeout, 0.5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        await asyncio.sleep(_COALESCE_SECONDS)  # let a burst of events land in the cache
        self._wake.clear()

    async def _leading(self) -> bool:
        """True when this replica may dispatch (see leadership)."""
        if self._peering_name is None:
            metrics.LEADER.set(1)
            return True
        scopes: Iterable[str | None] = self._namespaces if self._namespaces else [None]
        now = self._now()
        leading = True
        for namespace in scopes:
            peering = await self._client.get_peering(self._peering_name, namespace)
            if not leadership.leads(
                peering, identity=self._config.identity, priority=self._priority, now=now
            ):
                leading = False
                break
        if not leading:
            if self._leading_since is not None:
                logger.info("another replica leads: dispatching stops")
            self._leading_since = None
            self._synced_at = None
            metrics.LEADER.set(0)
            metrics.clear_leader_gauges()  # the leader reports them; stale copies would add up
            return False
        if self._leading_since is None:
            logger.info("leading: dispatching starts in %.0fs", _LEADERSHIP_GRACE_SECONDS)
            self._leading_since = time.monotonic()
        if time.monotonic() - self._leading_since < _LEADERSHIP_GRACE_SECONDS:
            return False  # let the previous leader notice and stop first
        metrics.LEADER.set(1)
        return True

    async def resync(self) -> None:
        """Lists every kind from the API server and merges it into the cache."""
        paths: list[tuple[str, str, str | None]] = []
        scopes: list[str | None] = list(self._namespaces) if self._namespaces else [None]
        selector = f"{models.LABEL_MANAGED_BY}={jobs.MANAGED_BY}"
        for namespace in scopes:
            for kind in ("AgentTask", "AgentPlan", "AgentProfile"):
                paths.append((kind, kube.Kube.custom_path(kind, namespace), None))
            paths.append(("Job", kube.Kube.jobs_path(namespace), selector))
        listed = await asyncio.gather(
            *(
                self._client.list_all(path, label_selector=sel, transform=store_module.slim)
                for _, path, sel in paths
            )
        )
        merged: dict[str, tuple[list[dict[str, Any]], str]] = {}
        for (kind, _, _), (items, version) in zip(paths, listed, strict=True):
            previous = merged.get(kind, ([], version))
            merged[kind] = (previous[0] + items, min(previous[1], version, key=_as_int))
        for kind, (items, version) in merged.items():
            self._store.replace(kind, items, version)
        self._synced_at = time.monotonic()

    async def run_pass(self) -> scheduling.Decision:
        """One scheduling pass over the whole cache, and carrying out its decisions."""
        started = time.perf_counter()
        snapshot = self._store.snapshot()
        await self._gather_inputs(snapshot)
        now = self._now()
        decision = scheduling.decide(snapshot, self._config, now)
        await self._apply(snapshot, decision, now)
        self._next_wake = decision.next_wake
        self._circuits.update(decision.circuits)
        self._record_metrics(decision)
        metrics.PASS_SECONDS.observe(time.perf_counter() - started)
        self.passes += 1
        return decision

    # ----------------------------------------------------------------- inputs

    async def _gather_inputs(self, snapshot: scheduling.Snapshot) -> None:
        needed = scheduling.reports_needed(snapshot)
        wanted = {(j.namespace, j.name) for j in needed}
        self._reports = {k: v for k, v in self._reports.items() if k in wanted}

        async def read_report(job: jobs.JobView) -> None:
            pods = await self._client.job_pods(job.namespace, job.name)
            self._reports[(job.namespace, job.name)] = results.pod_report(pods)

        await self._bounded(
            read_report(j) for j in needed if (j.namespace, j.name) not in self._reports
        )
        snapshot.reports = dict(self._reports)

        async def confirm(namespace: str, name: str) -> None:
            raw = await self._client.get_job(namespace, name)
            if raw is None:
                snapshot.missing_jobs.add((namespace, name))
            elif self._store.apply("Job", "MODIFIED", raw):
                view = jobs.view(raw)
                if view is not None:
                    snapshot.jobs.setdefault((namespace, view.task), []).append(view)

        await self._bounded(confirm(ns, name) for ns, name in scheduling.jobs_to_confirm(snapshot))

        moment = time.monotonic()

        async def check_secret(key: tuple[str, str, str]) -> None:
            problem = await self._client.secret_problem(*key)
            self._secrets[key] = (time.monotonic(), problem)

        keys = scheduling.secrets_needed(snapshot)
        stale = [
            k
            for k in keys
            if k not in self._secrets or moment - self._secrets[k][0] > _SECRET_TTL_SECONDS
        ]
        await self._bounded(check_secret(k) for k in stale)
        snapshot.secrets = {k: self._secrets[k][1] for k in keys if k in self._secrets}
        snapshot.circuits = dict(self._circuits)

    # ----------------------------------------------------------------- output

    async def _apply(
        self, snapshot: scheduling.Snapshot, decision: scheduling.Decision, now: datetime.datetime
    ) -> None:
        await self._bounded(self._cancel(c) for c in decision.cancels)
        created = await self._bounded(self._create(d, now) for d in decision.dispatches)
        failed_creates = {key for key, ok in created if not ok}
        entries = {e.key: e for e in snapshot.tasks}
        uids = {e.key: e.task.metadata.uid or "" for e in snapshot.tasks}

        def writes() -> Iterator[Awaitable[None]]:
            for key, status in decision.statuses.items():  # only the changed ones
                if key not in failed_creates:
                    old = entries[key].task.status.to_api()
                    yield self._write_status("AgentTask", key, old, status)
            for scope, plan_status in decision.plan_statuses.items():
                raw_plan = snapshot.plans[scope].raw
                yield self._write_status(
                    "AgentPlan", scope, raw_plan.get("status") or {}, plan_status
                )
            for key, refs in decision.owner_refs.items():
                yield self._write_owner_refs(key, refs, uids[key])

        await self._bounded(writes())
        for event in decision.events:
            if self._events.full():
                logger.debug("Event queue full: dropping %s of %s", event.reason, event.name)
                break
            self._events.put_nowait((event, now))
        if len(decision.statuses) > 1000:
            _return_freed_memory()

    async def _cancel(self, cancel: scheduling.Cancel) -> None:
        logger.info("deleting Job %s/%s: %s", cancel.namespace, cancel.job, cancel.reason)
        await self._client.delete_job(cancel.namespace, cancel.job)

    async def _create(
        self, dispatch: scheduling.Dispatch, now: datetime.datetime
    ) -> tuple[scheduling.TaskKey, bool]:
        manifest = dispatch.job
        name = manifest["metadata"]["name"]
        namespace = manifest["metadata"]["namespace"]
        try:
            raw = await self._client.create_job(manifest)
        except kube.ApiError as error:
            if error.status == 409:
                raw_existing = await self._client.get_job(namespace, name)
                view = jobs.view(raw_existing) if raw_existing else None
                task_uid = manifest["metadata"]["ownerReferences"][0]["uid"]
                if raw_existing is not None and view is not None and view.owner_uid == task_uid:
                    self._store.apply("Job", "MODIFIED", raw_existing)
                    return dispatch.key, True  # made by us (another pass or replica): adopt it
                message = f"a Job named {name} already exists and belongs to another object"
            else:
                message = f"{error.status} {error.reason}: {error.message}"
            logger.warning("could not create Job %s/%s: %s", namespace, name, message)
            status = scheduling.status_after_failed_create(dispatch, message, None, now)
            await self._write_status(
                "AgentTask", dispatch.key, dispatch.status_before.to_api(), status
            )
            self._next_wake = now + datetime.timedelta(seconds=5)
            return dispatch.key, False
        self._store.apply("Job", "ADDED", raw)
        if dispatch.latency_seconds is not None:
            metrics.DISPATCH_LATENCY.labels(dispatch.scope[0]).observe(
                max(0.0, dispatch.latency_seconds)
            )
        return dispatch.key, True

    async def _write_status(
        self,
        kind: str,
        key: tuple[str, str],
        old: dict[str, Any],
        new: models.AgentTaskStatus | models.AgentPlanStatus,
    ) -> None:
        patch = patches.merge_patch(old, new.to_api())
        if not patch:
            return
        try:
            raw = await self._client.patch_status(kind, key[0], key[1], patch)
        except kube.ApiError as error:
            if error.status == 404:
                return  # deleted meanwhile
            logger.warning("could not write the status of %s %s/%s: %s", kind, *key, error)
            return
        self._store.apply(kind, "MODIFIED", raw)

    async def _write_owner_refs(
        self, key: tuple[str, str], refs: list[dict[str, Any]], uid: str
    ) -> None:
        try:
            raw = await self._client.patch_owner_references("AgentTask", key[0], key[1], refs, uid)
        except kube.ApiError as error:
            if error.status not in (404, 409):
                logger.warning("could not set the plan as owner of task %s/%s: %s", *key, error)
            return
        self._store.apply("AgentTask", "MODIFIED", raw)

    async def _post_event(self, event: scheduling.Event, now: datetime.datetime) -> None:
        stamp = clock.format_time(now).split(".")[0] + "Z"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{event.name[:200]}.", "namespace": event.namespace},
            "involvedObject": {
                "apiVersion": models.API_VERSION,
                "kind": event.kind,
                "name": event.name,
                "namespace": event.namespace,
                "uid": event.uid,
            },
            "reason": event.reason,
            "message": event.message,
            "type": event.type,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": "agent-operator"},
        }
        try:
            await self._client.create_event(body)
        except Exception as error:
            logger.debug("could not record an Event: %s", error)

    async def _bounded(self, calls: Iterable[Awaitable[T]]) -> list[T]:
        """Runs the calls at most `_WRITE_CONCURRENCY` at a time, pulling them from the
        iterable only when a slot is free, so 10,000 writes never exist at once."""
        iterator = iter(calls)
        results: list[T] = []

        async def worker() -> None:
            for call in iterator:
                results.append(await call)

        await asyncio.gather(*(worker() for _ in range(_WRITE_CONCURRENCY)))
        return results

    def _record_metrics(self, decision: scheduling.Decision) -> None:
        metrics.TASKS.clear()
        for (namespace, plan, phase), count in decision.phase_counts.items():
            metrics.TASKS.labels(namespace, plan, phase).set(count)
        metrics.RUNNING.clear()
        for (namespace, profile), count in decision.running_by_profile.items():
            metrics.RUNNING.labels(namespace, profile).set(count)
        for finished in decision.finished:
            namespace = finished.scope[0]
            metrics.ATTEMPTS.labels(
                namespace, finished.outcome, metrics.reason_label(finished.reason)
            ).inc()
            if finished.duration_seconds is not None:
                metrics.ATTEMPT_DURATION.labels(namespace, finished.outcome).observe(
                    max(0.0, finished.duration_seconds)
                )
            if finished.retried:
                metrics.RETRIES.labels(namespace, finished.scope[1]).inc()
            if finished.input_tokens or finished.output_tokens:
                tokens = metrics.TOKENS.labels
                tokens(namespace, finished.profile, "input").inc(finished.input_tokens)
                tokens(namespace, finished.profile, "output").inc(finished.output_tokens)
                metrics.COST.labels(namespace, finished.profile).inc(finished.cost_usd)
        metrics.CIRCUIT.clear()
        for scope, plan_status in decision.plan_statuses.items():
            for state in ("Closed", "Open", "HalfOpen"):
                metrics.CIRCUIT.labels(scope[0], scope[1], state).set(
                    1 if plan_status.circuit.state == state else 0
                )


def _return_freed_memory() -> None:
    """Hands memory freed after a large pass back to the OS (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


AsyncCall = Callable[[], Awaitable[None]]
