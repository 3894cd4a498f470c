"""What a pass decides: the statuses, the Jobs to create and delete, the Events, and what
the metrics need. Plain values; the actuator carries them out."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from agent_api import models

from agent_operator.scheduling.snapshot import PlanScope, TaskKey

REFUSED_CREATE_RETRY = datetime.timedelta(seconds=5)  # another try after a refused Job
START_RECHECK = datetime.timedelta(seconds=5)  # how often an unstarted pod is looked at


@dataclasses.dataclass(frozen=True)
class Dispatch:
    """A Job to create, and what to write if the API server refuses it."""

    key: TaskKey
    job: dict[str, Any]
    profile: str
    scope: PlanScope
    latency_seconds: float | None  # from queued to now
    status_before: models.AgentTaskStatus  # the task's status before this pass started it
    generation: int | None  # the task's metadata.generation this pass read
    retry_at: datetime.datetime  # when to try again after a refused create
    # The ConfigMap with the task input the Job's pod mounts (jobs.build_context); created
    # right after the Job, owned by it.
    context: dict[str, Any] | None = None

    @property
    def job_name(self) -> str:
        return str(self.job["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.job["metadata"]["namespace"])

    @property
    def task_uid(self) -> str:
        return str(self.job["metadata"]["ownerReferences"][0]["uid"])


@dataclasses.dataclass(frozen=True)
class Cancel:
    """A Job to delete."""

    namespace: str
    job: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Release:
    """A finished attempt's Job (and its pods) whose result is recorded, or whose task is
    gone: its result finalizer comes off, so Kubernetes may delete it."""

    namespace: str
    job: str


@dataclasses.dataclass(frozen=True)
class Event:
    """A Kubernetes Event to record on a task or plan."""

    namespace: str
    kind: str
    name: str
    uid: str
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class FinishedAttempt:
    """An attempt whose end this pass recorded (for metrics)."""

    scope: PlanScope
    profile: str
    outcome: str
    reason: str | None
    duration_seconds: float | None
    retried: bool
    input_tokens: int = 0  # as the runner reported them (0 without a report)
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclasses.dataclass(frozen=True)
class ReviewOutcome:
    """A pull request this pass saw reported, merged or closed (for metrics)."""

    scope: PlanScope
    outcome: str  # reported, merged, rejected
    seconds_under_review: float | None = None  # merged or rejected: from the report on


@dataclasses.dataclass
class Decision:
    """Everything one pass decided."""

    statuses: dict[TaskKey, models.AgentTaskStatus] = dataclasses.field(default_factory=dict)
    dispatches: list[Dispatch] = dataclasses.field(default_factory=list)
    cancels: list[Cancel] = dataclasses.field(default_factory=list)
    releases: list[Release] = dataclasses.field(default_factory=list)
    owner_refs: dict[TaskKey, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    plan_statuses: dict[PlanScope, models.AgentPlanStatus] = dataclasses.field(default_factory=dict)
    profile_statuses: dict[tuple[str, str], models.AgentProfileStatus] = dataclasses.field(
        default_factory=dict
    )  # (namespace, profile) -> its status, when its RuleValid condition changed
    circuits: dict[PlanScope, models.CircuitStatus] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)
    finished: list[FinishedAttempt] = dataclasses.field(default_factory=list)
    reviews: list[ReviewOutcome] = dataclasses.field(default_factory=list)
    queue: list[TaskKey] = dataclasses.field(default_factory=list)  # ready, in start order
    phase_counts: dict[tuple[str, str, str], int] = dataclasses.field(default_factory=dict)
    running_by_profile: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    # (scope, window "total" or "daily") -> (limit, recorded spend, reserved by the running
    # attempts), USD, of every scope with a budget
    budgets: dict[tuple[PlanScope, str], tuple[float, float, float]] = dataclasses.field(
        default_factory=dict
    )
    next_wake: datetime.datetime | None = None
    deferred: int = 0  # tasks left unrouted because the pass's time budget was spent

    def wake_at(self, moment: datetime.datetime) -> None:
        """Asks for another pass no later than `moment`."""
        if self.next_wake is None or moment < self.next_wake:
            self.next_wake = moment
