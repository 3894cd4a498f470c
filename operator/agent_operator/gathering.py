"""Gathering a pass's inputs beyond the cache: the pods of finished Jobs (their reports),
Jobs the cache may have missed, the labels, annotations and key names of the Secrets tasks
reference (cached briefly; never a value), the state of pull requests under review (asked
of the forge with back-off, within its rate limits), and the breakers of scopes
that have no AgentPlan object (kept in memory between passes)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
import urllib.parse
from collections.abc import Callable

from agent_api import forge, models

from agent_operator import api, bounded, clock, jobs, podreports, results, scheduling
from agent_operator import store as store_module
from agent_operator.scheduling import policy

logger = logging.getLogger(__name__)

SECRET_TTL_SECONDS = 10.0
FORGE_TIMEOUT_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class _Watched:
    """A pull request under review between passes."""

    number: int
    seen: scheduling.PullObservation
    interval: float  # seconds until the next look


class Gatherer:
    """Fills a snapshot with what `scheduling.inputs` says the pass needs."""

    def __init__(
        self,
        *,
        client: api.ClusterApi,
        store: store_module.Store,
        config: scheduling.Config,
        monotonic: Callable[[], float] = time.monotonic,
        now: clock.Clock = clock.system_clock,
        connect: Callable[..., forge.Forge | None] = forge.connect,
        pod_reports: podreports.PodReports | None = None,  # None: every report is read
    ) -> None:
        self._pod_reports = pod_reports if pod_reports is not None else podreports.PodReports()
        self._client = client
        self._store = store
        self._config = config
        self._monotonic = monotonic
        self._now = now
        self._connect = connect
        self._pulls: dict[scheduling.TaskKey, _Watched] = {}
        self._held: dict[str, datetime.datetime] = {}  # forge API host -> rate-limited until
        self._reports: dict[tuple[str, str], results.PodReport | None] = {}
        # (namespace, Job) of an unstarted attempt -> when it was last looked into, and what
        # keeps it from starting (None: nothing yet)
        self._starts: dict[
            tuple[str, str], tuple[datetime.datetime, results.StartProblem | None]
        ] = {}
        self._secrets: dict[tuple[str, str], tuple[float, policy.SecretMeta | None]] = {}
        self._circuits: dict[scheduling.PlanScope, models.CircuitStatus] = {}

    async def gather(self, snapshot: scheduling.Snapshot) -> None:
        await self._read_reports(snapshot)
        await self._confirm_jobs(snapshot)
        await self._check_starts(snapshot)
        await self._check_secrets(snapshot)
        await self._check_reviews(snapshot)
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

        unread = []
        for job in needed:
            key = (job.namespace, job.name)
            if key in self._reports:
                continue
            # A completed Job's one succeeded pod, as the pod watch showed it: no API call.
            watched = self._pod_reports.take(*key) if job.finished == "Complete" else None
            if watched is not None:
                self._reports[key] = watched
            else:
                unread.append(job)
        await bounded.gather(read(j) for j in unread)
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
        """What keeps unstarted attempts: as the pod watch shows their pods, else (no pod
        seen) their pods and Events read when `scheduling.start_check_due` says so; between
        looks a pass reuses what the last one found."""
        now = self._now()
        pending = scheduling.starts_to_check(snapshot)
        keys = {(j.namespace, j.name) for j in pending}
        self._starts = {k: v for k, v in self._starts.items() if k in keys}

        async def check(job: jobs.JobView) -> None:
            pods = await self._client.job_pods(job.namespace, job.name)
            events = [] if pods else await self._client.job_events(job.namespace, job.name)
            self._starts[(job.namespace, job.name)] = (now, results.start_problem(pods, events))

        def last_look(job: jobs.JobView) -> datetime.datetime | None:
            seen = self._starts.get((job.namespace, job.name))
            return seen[0] if seen is not None else None

        due = []
        for job in pending:
            watched, problem = self._pod_reports.start_problem(job.namespace, job.name)
            if watched:  # the pod watch shows the pod: no call needed
                self._starts[(job.namespace, job.name)] = (now, problem)
            elif scheduling.start_check_due(job, now, last_look(job)):
                due.append(job)
        await bounded.gather(check(j) for j in due)
        snapshot.start_problems = {k: problem for k, (_, problem) in self._starts.items()}

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

    async def _check_reviews(self, snapshot: scheduling.Snapshot) -> None:
        """Asks the forge about each pull request under review that is due for a look."""
        wanted = scheduling.pulls_to_check(snapshot)
        keys = {p.key for p in wanted}
        self._pulls = {k: v for k, v in self._pulls.items() if k in keys}
        now = self._now()
        due = [
            p
            for p in wanted
            if (known := self._pulls.get(p.key)) is None
            or known.number != p.number
            or known.seen.next_check <= now
        ]
        tokens: dict[tuple[str, str, str], str | None] = {}  # one read per Secret key a pass
        await bounded.gather(self._look(p, snapshot, tokens) for p in due)
        snapshot.reviews = {k: v.seen for k, v in self._pulls.items()}

    async def _look(
        self,
        pull: scheduling.PullToCheck,
        snapshot: scheduling.Snapshot,
        tokens: dict[tuple[str, str, str], str | None],
    ) -> None:
        known = self._pulls.get(pull.key)
        if known is not None and known.number != pull.number:
            known = None
        previous = known.seen.state if known is not None else None
        base = self._config.review_poll_seconds
        interval = base if known is None else known.interval
        now = self._now()
        api_url = forge.api_url(pull.repository) or ""
        host = urllib.parse.urlsplit(api_url).hostname or ""
        held = self._held.get(host)
        if held is not None and held > now:
            self._remember(pull, previous, now, held, interval, "the forge's rate limit holds")
            return
        problem = policy.forge_problem(pull.repository, self._config.policy)
        token: str | None = None
        if problem is None and pull.credential is not None:
            use = pull.credential
            meta = (snapshot.secrets or {}).get(use.secret)
            problem = policy.credential_problem(use, meta)
            if problem is None:
                where = (use.namespace, use.name, use.key)
                if where not in tokens:
                    tokens[where] = await self._client.secret_value(*where)
                token = tokens[where]
        if problem is not None:
            self._remember(pull, previous, now, None, self._longer(interval), problem)
            return
        client = self._connect(
            pull.repository,
            token,
            max_wait_seconds=0.0,  # never sleep in the operator: come back later instead
            clock=lambda: self._now().timestamp(),
            timeout_seconds=FORGE_TIMEOUT_SECONDS,
        )
        if client is None:
            return
        try:
            found = await asyncio.to_thread(client.get_pull, pull.number)
        except forge.RateLimited as limited:
            until = datetime.datetime.fromtimestamp(limited.retry_at, tz=datetime.UTC)
            self._held[host] = until
            logger.info("forge %s rate-limits until %s", host, until.isoformat())
            self._remember(pull, previous, now, until, interval, str(limited))
            return
        except forge.ForgeError as error:
            self._remember(pull, previous, now, None, self._longer(interval), str(error))
            return
        interval = self._longer(interval) if found.state == previous else base
        self._remember(pull, found.state, now, None, interval, None, found.merged_at)

    def _longer(self, interval: float) -> float:
        return min(self._config.review_poll_max_seconds, interval * 2)

    def _remember(
        self,
        pull: scheduling.PullToCheck,
        state: forge.PullState | None,
        now: datetime.datetime,
        until: datetime.datetime | None,
        interval: float,
        problem: str | None,
        merged_at: str | None = None,
    ) -> None:
        next_check = until or now + datetime.timedelta(seconds=interval)
        seen = scheduling.PullObservation(
            state=state,
            checked=now,
            next_check=next_check,
            merged_at=merged_at,
            problem=problem[:1024] if problem else None,
        )
        self._pulls[pull.key] = _Watched(pull.number, seen, interval)
