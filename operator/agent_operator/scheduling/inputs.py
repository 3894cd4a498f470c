"""What a pass needs beyond the cache, so that the gatherer fetches exactly that: the pods
of finished Jobs, Jobs the cache may have missed, the Secret keys tasks would use, and the
pull requests under review."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator

from agent_api import forge, models

from agent_operator import jobs
from agent_operator.scheduling.decisions import START_RECHECK
from agent_operator.scheduling.policy import SecretUse
from agent_operator.scheduling.readiness import required_secrets
from agent_operator.scheduling.snapshot import (
    Config,
    Snapshot,
    TaskKey,
    plan_spec_of,
    running_record,
    scope_of,
    task_jobs,
)


def _running_attempts(snapshot: Snapshot) -> Iterator[tuple[str, str, jobs.JobView | None]]:
    """(namespace, Job name, the Job as the cache holds it or None) of every running attempt."""
    for entry in snapshot.tasks:
        record = running_record(entry.task.status)
        if record is not None:
            job = next((j for j in task_jobs(snapshot, entry.task) if j.name == record.job), None)
            yield entry.task.metadata.namespace or "", record.job, job


def reports_needed(snapshot: Snapshot) -> list[jobs.JobView]:
    """Finished Jobs whose attempt is not yet recorded: their pods must be read."""
    return [
        job
        for _, _, job in _running_attempts(snapshot)
        if job is not None
        and job.finished is not None
        and (job.namespace, job.name) not in snapshot.reports
    ]


def jobs_to_confirm(snapshot: Snapshot) -> list[tuple[str, str]]:
    """Running attempts whose Job the cache does not hold: ask the API server."""
    return [(ns, name) for ns, name, job in _running_attempts(snapshot) if job is None]


def starts_to_check(snapshot: Snapshot) -> list[jobs.JobView]:
    """Running attempts whose pod has not started: their pods and Events say why."""
    return [
        job
        for _, _, job in _running_attempts(snapshot)
        if job is not None and not job.started and not job.deleting
    ]


START_CHECK_GRACE = datetime.timedelta(seconds=10)
"""How old an unstarted attempt's Job without a pod in the pod watch is before its pods and
Events are read: the Job controller makes nearly every pod within it (what a pod that
exists waits for, the watch shows at once), and reading them for every new Job would
cost each dispatch two calls. A Job the controller cannot make a pod for (a quota, an
admission policy) says why in its Events, which this delays by the grace."""


def start_check_due(
    job: jobs.JobView, now: datetime.datetime, last_look: datetime.datetime | None
) -> bool:
    """Whether the gatherer looks at an unstarted attempt in this pass: once it is past the
    grace, then again each START_RECHECK (when `decide` asks for a pass anyway)."""
    if job.created is not None and now - job.created < START_CHECK_GRACE:
        return False
    return last_look is None or now - last_look >= START_RECHECK


def secrets_needed(snapshot: Snapshot, config: Config) -> set[tuple[str, str]]:
    """(namespace, name) of the Secrets the Jobs of tasks that may start would reference:
    those of running and finished tasks too, as an attempt that ends or a rerun may make
    the task ready in the same pass. A namespace's tasks share few Secrets."""
    needed: set[tuple[str, str]] = set()
    for entry in snapshot.tasks:
        task = entry.task
        if task.spec.done:
            continue
        plan_spec = plan_spec_of(snapshot, scope_of(task), config)
        needed.update(
            use.secret
            for use in required_secrets(task.metadata.namespace or "", task.spec, plan_spec)
        )
    return needed


@dataclasses.dataclass(frozen=True)
class PullToCheck:
    """A task in AwaitingReview: its pull request, and the credential to ask with."""

    key: TaskKey
    repository: models.Repository
    number: int
    credential: SecretUse | None  # the forge's use of spec.repository.credentialsSecret


def pulls_to_check(snapshot: Snapshot) -> list[PullToCheck]:
    """The pull requests of tasks that wait for their review, as the cache has them."""
    found = []
    for entry in snapshot.tasks:
        task = entry.task
        status = task.status
        repository = task.spec.repository
        if status.phase != "AwaitingReview" or repository is None or repository.forge is None:
            continue
        number = status.review.number if status.review else None
        number = number or (status.result.pr_number if status.result else None)
        if number is None:
            continue
        api = forge.api_url(repository)
        cred = repository.credentials_secret
        credential = (
            SecretUse(
                task.metadata.namespace or "",
                cred.name,
                cred.key,
                "spec.repository.credentialsSecret, for spec.repository.forge",
                url=api,
            )
            if cred is not None
            else None
        )
        found.append(PullToCheck(entry.key, repository, number, credential))
    return found
