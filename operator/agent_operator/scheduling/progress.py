"""A task while a pass works on it: its parsed object, the status the pass is building,
and the few setters every concern uses to change that status."""

from __future__ import annotations

import dataclasses
import datetime

from agent_api import models

from agent_operator import conditions, jobs
from agent_operator.scheduling.snapshot import PlanScope, TaskEntry, scope_of

MESSAGE_LIMIT = 4096
TERMINAL = ("Succeeded", "Failed")
# Finished runs that wait for, or were refused by, the review of their pull request.
REVIEWED = ("AwaitingReview", "Rejected")
HISTORY_LIMIT = 20  # AgentTaskStatus.history keeps the newest attempts only

DependencyScope = tuple[str, str | None]  # (namespace, spec.plan): where dependsOn IDs live


@dataclasses.dataclass
class TaskProgress:
    """One task in the current pass; `status` starts as a working copy of its status."""

    entry: TaskEntry
    status: models.AgentTaskStatus
    jobs: list[jobs.JobView]
    plan_spec: models.AgentPlanSpec
    plan_found: bool = True  # spec.plan names an AgentPlan that exists (or names none)
    terminal: bool = False  # settled: needs no dispatch decision this pass
    running: bool = False  # an attempt runs (or its end is not yet read)

    @property
    def spec(self) -> models.AgentTaskSpec:
        return self.entry.task.spec

    @property
    def meta(self) -> models.ObjectMeta:
        return self.entry.task.metadata

    @property
    def namespace(self) -> str:
        return self.meta.namespace or ""

    @property
    def dependency_scope(self) -> DependencyScope:
        return (self.namespace, self.spec.plan)

    @property
    def scope(self) -> PlanScope:
        return scope_of(self.entry.task)

    @property
    def succeeded(self) -> bool:
        """Settled as succeeded this pass (run or marked done): dependents may start."""
        return self.terminal and self.status.phase == "Succeeded"

    @property
    def failed(self) -> bool:
        return self.terminal and self.status.phase == "Failed"

    @property
    def rejected(self) -> bool:
        """Its pull request was closed without merge (plans with spec.review merged)."""
        return self.terminal and self.status.phase == "Rejected"

    def set_phase(self, phase: models.Phase | None, message: str) -> None:
        self.status.phase = phase
        self.status.message = message[:MESSAGE_LIMIT]

    def set_condition(
        self,
        type: str,
        status: models.ConditionStatus,
        reason: str,
        message: str,
        now: datetime.datetime,
    ) -> None:
        """Sets one condition, against the generation this pass read."""
        self.status.conditions = conditions.set_condition(
            self.status.conditions,
            type=type,
            status=status,
            reason=reason,
            message=message,
            generation=self.meta.generation,
            now=now,
        )

    def ready(self, reason: str, message: str, now: datetime.datetime) -> None:
        self.set_condition(conditions.READY, "True", reason, message, now)

    def not_ready(self, reason: str, message: str, now: datetime.datetime) -> None:
        self.set_condition(conditions.READY, "False", reason, message, now)


def working_copy(status: models.AgentTaskStatus) -> models.AgentTaskStatus:
    """A copy the pass may change: the lists are new, their items shared. Items are never
    changed in place (records and conditions are replaced), so this is as safe as a deep
    copy at a fraction of its cost."""
    return status.model_copy(
        update={
            "history": list(status.history),
            "conditions": list(status.conditions),
            "blocked_by": list(status.blocked_by),
        }
    )
