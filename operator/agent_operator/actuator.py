"""Carrying out a decision: deleting and creating Jobs, writing statuses and
ownerReferences, queueing Events. Only what changed is written.

A Job the API server refuses leaves the task queued with the API's answer (the status
`scheduling.status_after_refused_create` computes, against the generation the pass read) and
asks for another pass at the time `decide` set. A Job that already exists is adopted when it
belongs to the same task (another pass or replica created it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from agent_api import models

from agent_operator import api, bounded, egress, eventing, jobs, kube, metrics, patches, scheduling
from agent_operator import store as store_module

logger = logging.getLogger(__name__)

LARGE_PASS = 1000  # statuses written; after such a pass freed memory goes back to the OS


class Actuator:
    """Writes one decision to the cluster and keeps the cache in step with the answers."""

    def __init__(
        self,
        *,
        client: api.ClusterApi,
        store: store_module.Store,
        events: eventing.EventPoster,
        egress: egress.Keeper | None = None,  # None: no egress NetworkPolicy is kept
    ) -> None:
        self._client = client
        self._store = store
        self._events = events
        self._egress = egress
        self._releasing: set[tuple[str, str]] = set()  # (namespace, Job) being let go
        self._release_batches: set[asyncio.Task[list[None]]] = set()

    async def apply(
        self,
        snapshot: scheduling.Snapshot,
        decision: scheduling.Decision,
        now: datetime.datetime,
        *,
        still_leading: Callable[[], bool] = lambda: True,
    ) -> datetime.datetime | None:
        """Carries out the decision; returns when a refused create wants another pass.
        `still_leading` is asked before each batch of writes: a replica that lost the lead
        mid-pass writes nothing more."""
        if not still_leading():
            return None
        await bounded.gather(self._cancel(c) for c in decision.cancels)
        if not still_leading():
            return None
        # The new Jobs first, the other tasks' writes alongside them rather than after them;
        # then the started tasks' statuses, which name their Jobs only once those exist.
        # A pass costs about two round trips of the API server, however much it writes.
        started = {d.key for d in decision.dispatches}
        created = await bounded.gather(
            itertools.chain(
                (self._create(d, now) for d in decision.dispatches),
                self._statuses(snapshot, decision, lambda key: key not in started),
                self._other_writes(snapshot, decision),
            )
        )
        refused = [d for d, ok in filter(None, created) if not ok]  # (None: a status write)
        retry_at = min((d.retry_at for d in refused), default=None)
        if not still_leading():
            return retry_at
        made = started - {d.key for d in refused}
        await bounded.gather(self._statuses(snapshot, decision, lambda key: key in made))
        if still_leading():
            self._start_releases(decision.releases)
        self._events.post(decision.events, now)
        if len(decision.statuses) > LARGE_PASS:
            _return_freed_memory()
        return retry_at

    def _statuses(
        self,
        snapshot: scheduling.Snapshot,
        decision: scheduling.Decision,
        wanted: Callable[[scheduling.TaskKey], bool],
    ) -> Iterator[Awaitable[None]]:
        """The changed task statuses of the tasks `wanted` picks."""
        entries = {e.key: e for e in snapshot.tasks}
        for key, status in decision.statuses.items():  # only the changed ones
            if wanted(key):
                old = entries[key].task.status.to_api()
                yield self._write_status("AgentTask", key, old, status)

    def _other_writes(
        self, snapshot: scheduling.Snapshot, decision: scheduling.Decision
    ) -> Iterator[Awaitable[None]]:
        """Plan and profile statuses, and the tasks' ownerReferences."""
        entries = {e.key: e for e in snapshot.tasks}
        for scope, plan_status in decision.plan_statuses.items():
            raw_plan = snapshot.plans[scope].raw
            yield self._write_status("AgentPlan", scope, raw_plan.get("status") or {}, plan_status)
        profiles = {
            (ns, p.metadata.name or ""): p for ns, items in snapshot.profiles.items() for p in items
        }
        for key, profile_status in decision.profile_statuses.items():
            old_profile = profiles[key].status.to_api()
            yield self._write_status("AgentProfile", key, old_profile, profile_status)
        for key, refs in decision.owner_refs.items():
            yield self._write_owner_refs(key, refs, entries[key].task.metadata.uid or "")

    def _start_releases(self, releases: list[scheduling.Release]) -> None:
        """Lets go of the Jobs in the background: three calls each that no decision waits
        for, so the next pass (and the next Job) need not wait for them either. A release
        still in flight is not started again; one that fails is decided again next pass."""
        fresh = [r for r in releases if (r.namespace, r.job) not in self._releasing]
        if not fresh:
            return
        keys = {(r.namespace, r.job) for r in fresh}
        self._releasing |= keys
        batch = asyncio.create_task(bounded.gather(self._release(r) for r in fresh))
        self._release_batches.add(batch)

        def done(finished: asyncio.Task[list[None]]) -> None:
            self._release_batches.discard(finished)
            self._releasing -= keys

        batch.add_done_callback(done)

    async def drain(self) -> None:
        """Waits for the releases in flight (tests, and a pass that must see them done)."""
        while self._release_batches:
            await asyncio.gather(*self._release_batches, return_exceptions=True)

    async def _release(self, release: scheduling.Release) -> None:
        """Takes the result finalizer off the attempt's pods, then off its Job."""
        try:
            for pod in await self._client.job_pods(release.namespace, release.job):
                if jobs.RESULT_FINALIZER in (pod.get("metadata") or {}).get("finalizers", []):
                    name = pod["metadata"]["name"]
                    await self._client.remove_finalizer(
                        "Pod", release.namespace, name, jobs.RESULT_FINALIZER
                    )
            await self._client.remove_finalizer(
                "Job", release.namespace, release.job, jobs.RESULT_FINALIZER
            )
        except kube.ApiError as error:
            logger.warning("could not release Job %s/%s: %s", release.namespace, release.job, error)
        except Exception:  # a background task: nobody else would see it
            logger.exception("could not release Job %s/%s", release.namespace, release.job)

    async def _cancel(self, cancel: scheduling.Cancel) -> None:
        logger.info("deleting Job %s/%s: %s", cancel.namespace, cancel.job, cancel.reason)
        await self._client.delete_job(cancel.namespace, cancel.job)

    async def _create(
        self, dispatch: scheduling.Dispatch, now: datetime.datetime
    ) -> tuple[scheduling.Dispatch, bool]:
        """Creates (or adopts) the attempt's Job; False when the API server refused it."""
        # No agent pod without its egress policy: a namespace where it cannot be written
        # gets no Job (the task stays queued with the reason, and is tried again).
        problem = await self._egress.ensure(dispatch.namespace) if self._egress else None
        if problem is not None:
            return await self._refused(dispatch, problem, now)
        try:
            raw = await self._client.create_job(dispatch.job)
        except kube.ApiError as error:
            if error.status == 409 and await self._adopt(dispatch):
                return dispatch, True
            message = (
                f"a Job named {dispatch.job_name} already exists and belongs to another object"
                if error.status == 409
                else f"{error.status} {error.reason}: {error.message}"
            )
            return await self._refused(dispatch, message, now)
        self._store.apply("Job", "ADDED", raw)
        await self._create_context(dispatch, raw)
        if dispatch.latency_seconds is not None:
            metrics.DISPATCH_LATENCY.labels(dispatch.scope[0]).observe(
                max(0.0, dispatch.latency_seconds)
            )
        return dispatch, True

    async def _refused(
        self, dispatch: scheduling.Dispatch, message: str, now: datetime.datetime
    ) -> tuple[scheduling.Dispatch, bool]:
        logger.warning(
            "could not create Job %s/%s: %s", dispatch.namespace, dispatch.job_name, message
        )
        status = scheduling.status_after_refused_create(dispatch, message, now)
        await self._write_status("AgentTask", dispatch.key, dispatch.status_before.to_api(), status)
        return dispatch, False

    async def _adopt(self, dispatch: scheduling.Dispatch) -> bool:
        """True when the existing Job is this task's (made by another pass or replica)."""
        existing = await self._client.get_job(dispatch.namespace, dispatch.job_name)
        view = jobs.view(existing) if existing else None
        if existing is None or view is None or view.owner_uid != dispatch.task_uid:
            return False
        self._store.apply("Job", "MODIFIED", existing)
        await self._create_context(dispatch, existing)
        return True

    async def _create_context(self, dispatch: scheduling.Dispatch, job: dict[str, Any]) -> None:
        """The ConfigMap with the task input, owned by the Job. Until it exists the pod
        waits in ContainerCreating; if it cannot be made, the start timeout ends the
        attempt with the API server's answer in the operator's log."""
        if dispatch.context is None or not (job.get("metadata") or {}).get("uid"):
            return
        try:
            await self._client.create_config_map(jobs.owned_by(dispatch.context, job))
        except kube.ApiError as error:
            if error.status != 409:  # 409: made already (an earlier pass, another replica)
                logger.warning(
                    "could not create the task input ConfigMap %s/%s: %s %s: %s",
                    dispatch.namespace, dispatch.job_name, error.status, error.reason,
                    error.message,
                )

    async def _write_status(
        self,
        kind: str,
        key: tuple[str, Any],
        old: dict[str, Any],
        new: models.AgentTaskStatus | models.AgentPlanStatus | models.AgentProfileStatus,
    ) -> None:
        patch = patches.merge_patch(old, new.to_api())
        if not patch:
            return
        try:
            raw = await self._client.patch_status(kind, key[0], str(key[1]), patch)
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


def _return_freed_memory() -> None:
    """Hands memory freed after a large pass back to the OS (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
