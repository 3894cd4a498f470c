"""Gathering a pass's inputs beyond the cache: the pods of finished Jobs (their reports),
Jobs the cache may have missed, the labels, annotations and key names of the Secrets tasks
reference (cached briefly; never a value), and the breakers of scopes
that have no AgentPlan object (kept in memory between passes)."""

from __future__ import annotations

import time
from collections.abc import Callable

from agent_api import models

from agent_operator import api, bounded, jobs, results, scheduling
from agent_operator import store as store_module
from agent_operator.scheduling import policy

SECRET_TTL_SECONDS = 10.0


class Gatherer:
    """Fills a snapshot with what `scheduling.inputs` says the pass needs."""

    def __init__(
        self,
        *,
        client: api.ClusterApi,
        store: store_module.Store,
        config: scheduling.Config,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._store = store
        self._config = config
        self._monotonic = monotonic
        self._reports: dict[tuple[str, str], results.PodReport | None] = {}
        self._secrets: dict[tuple[str, str], tuple[float, policy.SecretMeta | None]] = {}
        self._circuits: dict[scheduling.PlanScope, models.CircuitStatus] = {}

    async def gather(self, snapshot: scheduling.Snapshot) -> None:
        await self._read_reports(snapshot)
        await self._confirm_jobs(snapshot)
        await self._check_starts(snapshot)
        await self._check_secrets(snapshot)
        snapshot.circuits = dict(self._circuits)

    def remember_circuits(self, circuits: dict[scheduling.PlanScope, models.CircuitStatus]) -> None:
        """Breakers of scopes without an AgentPlan live only here, between passes."""
        self._circuits.update(circuits)

    async def _read_reports(self, snapshot: scheduling.Snapshot) -> None:
        needed = scheduling.reports_needed(snapshot)
        wanted = {(j.namespace, j.name) for j in needed}
        self._reports = {k: v for k, v in self._reports.items() if k in wanted}

        async def read(job: jobs.JobView) -> None:
            pods = await self._client.job_pods(job.namespace, job.name)
            self._reports[(job.namespace, job.name)] = results.pod_report(pods)

        await bounded.gather(read(j) for j in needed if (j.namespace, j.name) not in self._reports)
        snapshot.reports = dict(self._reports)

    async def _confirm_jobs(self, snapshot: scheduling.Snapshot) -> None:
        async def confirm(namespace: str, name: str) -> None:
            raw = await self._client.get_job(namespace, name)
            if raw is None:
                snapshot.missing_jobs.add((namespace, name))
            elif self._store.apply("Job", "MODIFIED", raw):
                view = jobs.view(raw)
                if view is not None:
                    snapshot.jobs.setdefault((namespace, view.task), []).append(view)

        await bounded.gather(confirm(ns, name) for ns, name in scheduling.jobs_to_confirm(snapshot))

    async def _check_starts(self, snapshot: scheduling.Snapshot) -> None:
        async def check(job: jobs.JobView) -> None:
            pods = await self._client.job_pods(job.namespace, job.name)
            events = [] if pods else await self._client.job_events(job.namespace, job.name)
            snapshot.start_problems[(job.namespace, job.name)] = results.start_problem(pods, events)

        await bounded.gather(check(j) for j in scheduling.starts_to_check(snapshot))

    async def _check_secrets(self, snapshot: scheduling.Snapshot) -> None:
        moment = self._monotonic()

        async def check(key: tuple[str, str]) -> None:
            meta = await self._client.secret_meta(*key)
            self._secrets[key] = (self._monotonic(), meta)

        keys = scheduling.secrets_needed(snapshot, self._config)
        stale = [
            k
            for k in keys
            if k not in self._secrets or moment - self._secrets[k][0] > SECRET_TTL_SECONDS
        ]
        await bounded.gather(check(k) for k in stale)
        snapshot.secrets = {k: self._secrets[k][1] for k in keys if k in self._secrets}
