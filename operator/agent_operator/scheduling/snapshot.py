"""What a pass reads: the cluster as the operator's cache sees it, and the settings.

These are the only scheduling types the cache builds, so the cache imports nothing else of
the scheduling package.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Final, Literal

from agent_api import models, names

from agent_operator import jobs, results
from agent_operator.scheduling.policy import Policy, SecretMeta

TaskKey = tuple[str, str]  # (namespace, name)


NO_PLAN: Final = None
"""The plan of tasks that name none (`spec.plan` unset). They share caps and a circuit
breaker among themselves only: a plan that happens to be named like the namespace's default
plan is never mixed up with them."""

PlanScope = tuple[str, str | None]  # (namespace, plan name, or NO_PLAN)


def plan_label(plan: str | None) -> str:
    """The plan as metric labels carry it ('' for no plan)."""
    return plan or ""


def plan_phrase(scope: PlanScope) -> str:
    """The plan as messages name it."""
    return f"plan {scope[1]!r}" if scope[1] else f"the tasks without a plan in {scope[0]!r}"


@dataclasses.dataclass(frozen=True)
class TaskEntry:
    """One AgentTask, parsed. The cache keeps no raw copy: at 10,000 tasks it would
    double the operator's memory."""

    task: models.AgentTask

    @property
    def raw(self) -> dict[str, Any]:
        """The object as the API has it (unknown metadata kept), for the Job."""
        return self.task.model_dump(by_alias=True, exclude_none=True, mode="json")

    @property
    def key(self) -> TaskKey:
        return (self.task.metadata.namespace or "", self.task.metadata.name or "")


@dataclasses.dataclass(frozen=True)
class PlanEntry:
    """One AgentPlan: parsed, with the uid its tasks' ownerReferences need."""

    plan: models.AgentPlan
    uid: str
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class PullObservation:
    """What the gatherer last learnt on the forge of a task's pull request under review."""

    state: Literal["open", "merged", "closed"] | None  # None: not learnt (see problem)
    checked: datetime.datetime
    next_check: datetime.datetime  # when the gatherer asks again
    merged_at: str | None = None
    problem: str | None = None  # why the forge could not be asked, or what it answered


@dataclasses.dataclass
class Snapshot:
    """What the cluster holds, as the operator's cache sees it, plus what the gatherer
    fetched for this pass (pod reports, Jobs confirmed gone, Secret checks)."""

    tasks: list[TaskEntry]
    plans: dict[PlanScope, PlanEntry]
    profiles: dict[str, list[models.AgentProfile]]  # namespace -> profiles in rule order
    jobs: dict[tuple[str, str], list[jobs.JobView]]  # (namespace, task label) -> Jobs
    reports: dict[tuple[str, str], results.PodReport | None] = dataclasses.field(
        default_factory=dict
    )  # (namespace, Job) -> report of a finished Job; None: no pod was found
    missing_jobs: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    start_problems: dict[tuple[str, str], results.StartProblem | None] = dataclasses.field(
        default_factory=dict
    )  # (namespace, Job) of attempts not started yet -> what keeps them, None: nothing yet
    # (namespace, Secret) -> its labels, annotations and keys, None when absent or
    # unreadable. The gatherer always fills it; left None (the dashboard, which may not
    # read Secrets) the Secret check is skipped.
    secrets: dict[tuple[str, str], SecretMeta | None] | None = None
    circuits: dict[PlanScope, models.CircuitStatus] = dataclasses.field(
        default_factory=dict
    )  # breakers of scopes without an AgentPlan object (kept in memory)
    # Tasks in AwaitingReview -> their pull request as last seen on the forge
    reviews: dict[TaskKey, PullObservation] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Config:
    """Operator settings the decisions depend on."""

    max_concurrent: int = 5
    fallback_profile: str = models.FALLBACK_PROFILE
    default_image: str = models.DEFAULT_RUNNER_IMAGE
    default_plan: str = "default"  # whose settings tasks without spec.plan take
    job_ttl_seconds: int = 3600
    identity: str = "agent-operator"
    # The weight of each namespace in the fair share of the global cap (unlisted: 1).
    namespace_weights: tuple[tuple[str, float], ...] = ()
    policy: Policy = dataclasses.field(default_factory=Policy)  # what agents may be given
    # How often a pull request under review is looked at: first after this, then twice as
    # long after each look that finds it unchanged, up to the maximum.
    review_poll_seconds: float = 30.0
    review_poll_max_seconds: float = 600.0


def scope_of(task: models.AgentTask) -> PlanScope:
    """The plan whose caps and breaker the task shares."""
    return (task.metadata.namespace or "", task.spec.plan or NO_PLAN)


def plan_spec_of(snapshot: Snapshot, scope: PlanScope, config: Config) -> models.AgentPlanSpec:
    """The settings of a scope: its AgentPlan's, and for tasks without a plan those of the
    namespace's default plan (`Config.default_plan`); built-in defaults when it is absent."""
    namespace, plan = scope
    name = config.default_plan if plan is NO_PLAN else plan
    entry = snapshot.plans.get((namespace, name))
    return entry.plan.spec if entry is not None else models.AgentPlanSpec()


def task_jobs(snapshot: Snapshot, task: models.AgentTask) -> list[jobs.JobView]:
    """The task's attempt Jobs (a Job of an earlier task of the same name is not its)."""
    key = (task.metadata.namespace or "", names.label_value(task.metadata.name or ""))
    uid = task.metadata.uid
    return [j for j in snapshot.jobs.get(key, []) if j.owner_uid in (None, uid)]


def running_record(status: models.AgentTaskStatus) -> models.AttemptRecord | None:
    """The attempt record of the running attempt, if one runs (always the newest)."""
    if status.history and status.history[-1].outcome == "Running":
        return status.history[-1]
    return None
