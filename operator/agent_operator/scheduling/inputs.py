"""What a pass needs beyond the cache, so that the gatherer fetches exactly that: the pods
of finished Jobs, Jobs the cache may have missed, and the Secret keys tasks would use."""

from __future__ import annotations

from agent_operator import jobs
from agent_operator.scheduling.progress import TERMINAL
from agent_operator.scheduling.readiness import required_secrets
from agent_operator.scheduling.snapshot import (
    Config,
    Snapshot,
    plan_spec_of,
    running_record,
    scope_of,
    task_jobs,
)


def reports_needed(snapshot: Snapshot) -> list[jobs.JobView]:
    """Finished Jobs whose attempt is not yet recorded: their pods must be read."""
    needed = []
    for entry in snapshot.tasks:
        record = running_record(entry.task.status)
        if record is None:
            continue
        for job in task_jobs(snapshot, entry.task):
            if (
                job.name == record.job
                and job.finished is not None
                and (job.namespace, job.name) not in snapshot.reports
            ):
                needed.append(job)
    return needed


def jobs_to_confirm(snapshot: Snapshot) -> list[tuple[str, str]]:
    """Running attempts whose Job the cache does not hold: ask the API server."""
    missing = []
    for entry in snapshot.tasks:
        record = running_record(entry.task.status)
        if record is None:
            continue
        if record.job not in {j.name for j in task_jobs(snapshot, entry.task)}:
            missing.append((entry.task.metadata.namespace or "", record.job))
    return missing


def starts_to_check(snapshot: Snapshot) -> list[jobs.JobView]:
    """Running attempts whose pod has not started: their pods and Events say why."""
    unstarted = []
    for entry in snapshot.tasks:
        record = running_record(entry.task.status)
        if record is None:
            continue
        for job in task_jobs(snapshot, entry.task):
            if job.name == record.job and not job.started and not job.deleting:
                unstarted.append(job)
    return unstarted


def secrets_needed(snapshot: Snapshot, config: Config) -> set[tuple[str, str, str]]:
    """Secret keys the Jobs of tasks that may start would reference."""
    needed: set[tuple[str, str, str]] = set()
    for entry in snapshot.tasks:
        task = entry.task
        if task.spec.done or task.status.phase in TERMINAL or task.status.current_job:
            continue
        plan_spec = plan_spec_of(snapshot, scope_of(task), config)
        needed.update(required_secrets(task.metadata.namespace or "", task.spec, plan_spec))
    return needed
