"""The REST API's documents, as pydantic models: the source of the OpenAPI schema.

Field names are camelCase as in the CRDs, and a task's `spec`, `status`, conditions and
result are the CRD types themselves (agent_api.models). `views` builds these documents
as plain dicts for speed; a unit test validates every view against these models (unknown
fields are refused), so the schema cannot drift from what is served.
"""

from __future__ import annotations

from typing import Literal

from agent_api import models
from pydantic import Field

ApiModel = models.ApiModel
Timestamp = models.Timestamp


class Tokens(ApiModel):
    """Tokens used, as the runner reported them."""

    input: int = Field(ge=0, description="Input tokens.")
    output: int = Field(ge=0, description="Output tokens.")


class BudgetWindow(ApiModel):
    """One window of a plan's budget, as the operator's decision counts it."""

    limit_usd: float = Field(ge=0, alias="limitUSD", description="spec.budget's limit (USD).")
    spent_usd: float = Field(
        ge=0, alias="spentUSD", description="Recorded spend in the window (USD)."
    )
    reserved_usd: float = Field(
        ge=0, alias="reservedUSD", description="Reserved by the running attempts (USD)."
    )
    remaining_usd: float = Field(
        ge=0, alias="remainingUSD", description="What new attempts may still spend (USD)."
    )


class BudgetSummary(ApiModel):
    """A plan's budget: in total and today (UTC); a window is null when unset."""

    total: BudgetWindow | None = Field(description="spec.budget.maxCostUSD.")
    daily: BudgetWindow | None = Field(description="spec.budget.dailyCostUSD, today.")
    exhausted: bool = Field(description="No attempt starts: a window has nothing left.")


class PlanSummary(ApiModel):
    """A plan: its AgentPlan (if one exists) and the tasks in its scope."""

    namespace: str
    name: str = Field(description="The AgentPlan's name; `-` for the tasks without one.")
    exists: bool = Field(description="False when no AgentPlan object of this name exists.")
    paused: bool = Field(description="spec.paused of the AgentPlan.")
    total: int = Field(ge=0, description="Tasks in the plan.")
    progress: str = Field(description="Succeeded (or done) / total, as `N/M`.")
    percent: float = Field(ge=0, le=100, description="Succeeded share of the tasks, in percent.")
    counts: models.PhaseCounts = Field(description="Tasks per phase, from their status.")
    running: int = Field(ge=0)
    failed: int = Field(ge=0)
    circuit: models.CircuitStatus = Field(description="The plan's circuit breaker.")
    tokens: Tokens = Field(description="Tokens of the tasks' last results, summed.")
    cost_usd: float = Field(
        ge=0,
        alias="costUSD",
        description="What the tasks' attempts spent, all of them (status.spend), summed (USD).",
    )
    budget: BudgetSummary | None = Field(
        description="The budget of the plan (for the tasks without a plan, the default "
        "plan's); null when it sets none."
    )
    tasks_per_hour: float | None = Field(
        description="Tasks succeeded per hour over the last hour (or since the first start, "
        "when more recent); null before the first success."
    )
    eta: Timestamp | None = Field(
        description="When the rest would be done at that rate; the last completion once "
        "all succeeded; null without a rate."
    )
    start_time: Timestamp | None = Field(description="The earliest first attempt's start.")


class PlanList(ApiModel):
    """GET /api/v1/plans."""

    items: list[PlanSummary]
    generated: Timestamp = Field(description="When the cache's view was computed.")
    version: int = Field(description="The view's version; it grows with every change.")


class AttemptRow(ApiModel):
    """One attempt, as the task's status.history records it."""

    number: int
    job: str
    start_time: Timestamp | None = None
    completion_time: Timestamp | None = None
    outcome: Literal["Running", "Succeeded", "Failed", "Cancelled"]
    reason: str | None = None
    duration_seconds: float | None = Field(
        default=None, description="From start to completion (to now while it runs)."
    )


class TaskRow(ApiModel):
    """A task within a plan's document."""

    name: str = Field(description="The AgentTask's object name.")
    task_id: str
    title: str
    phase: models.Phase = Field(description="status.phase (Pending until the operator sets it).")
    priority: str
    profile: str | None = Field(description="status.agentProfile, else spec.agentProfile.")
    milestone: str | None = Field(description="The milestone label, if any.")
    depends_on: list[str]
    blocked_by: list[str] = Field(description="What holds it back, by the operator's rules.")
    reason: str | None = Field(description="The Ready condition's reason, by the operator's rules.")
    message: str | None = Field(description="Why it is in its phase.")
    attempts: int = Field(ge=0, description="Attempts started.")
    history: list[AttemptRow]
    start_time: Timestamp | None
    completion_time: Timestamp | None
    cost_usd: float = Field(
        ge=0, alias="costUSD", description="What its attempts spent (status.spend, USD)."
    )


class PlanDetail(PlanSummary):
    """GET /api/v1/namespaces/{namespace}/plans/{name}."""

    tasks: list[TaskRow] = Field(description="The plan's tasks, by task ID.")
    generated: Timestamp
    version: int


class Readiness(ApiModel):
    """Where the operator's readiness checks put the task now."""

    phase: models.Phase
    reason: str | None = Field(description="The Ready condition's reason.")
    message: str | None
    blocked_by: list[str]
    queue_position: int | None = Field(
        description="1-based place among the ready tasks; null when not ready."
    )


class EventRow(ApiModel):
    """A Kubernetes Event about the task."""

    type: str | None
    reason: str | None
    message: str | None
    count: int
    first_time: Timestamp | None
    last_time: Timestamp | None


class PodLog(ApiModel):
    """The tail of the current or last attempt's pod log, redacted."""

    attempt: int | None
    job: str | None
    pod: str | None = Field(description="The attempt's pod; null when none exists any more.")
    container: str
    lines: list[str]
    error: str | None = Field(description="Why there is no log, when there is none.")


class TaskDetail(ApiModel):
    """GET /api/v1/namespaces/{namespace}/tasks/{name}."""

    namespace: str
    name: str
    uid: str | None
    creation_timestamp: Timestamp | None
    plan: str = Field(description="The plan (scope) the task belongs to.")
    spec: models.AgentTaskSpec
    status: models.AgentTaskStatus = Field(description="As the operator last wrote it.")
    readiness: Readiness
    attempts: list[AttemptRow]
    result: models.TaskResult | None
    events: list[EventRow]
    log: PodLog | None = Field(description="Left out when `?log=false`.")
    generated: Timestamp
    version: int


class RunningAgent(ApiModel):
    """A running attempt."""

    namespace: str
    task: str = Field(description="The AgentTask's object name.")
    task_id: str
    plan: str
    profile: str | None
    attempt: int
    job: str
    pod: str | None
    node: str | None
    start_time: Timestamp | None
    age_seconds: float | None


class ProfileCount(ApiModel):
    namespace: str
    profile: str
    running: int


class AgentList(ApiModel):
    """GET /api/v1/agents."""

    items: list[RunningAgent]
    by_profile: list[ProfileCount]
    generated: Timestamp
    version: int


class Completion(ApiModel):
    """A finished attempt."""

    namespace: str
    task: str
    task_id: str
    plan: str
    profile: str | None
    attempt: int
    job: str
    outcome: Literal["Succeeded", "Failed", "Cancelled"]
    reason: str | None
    start_time: Timestamp | None
    completion_time: Timestamp | None
    duration_seconds: float | None
    summary: str | None = Field(description="The result's summary, for the task's last attempt.")


class CompletionList(ApiModel):
    """GET /api/v1/recent."""

    items: list[Completion] = Field(description="Newest first.")
    generated: Timestamp
    version: int


class QueueEntry(ApiModel):
    """A ready task, in the order the operator starts them."""

    position: int = Field(ge=1)
    namespace: str
    task: str
    task_id: str
    plan: str
    priority: str
    profile: str | None
    starts_now: bool = Field(description="A slot is free: the operator's next pass starts it.")
    message: str | None = Field(description="Why it has not started, when it waits for a slot.")


class WaitingEntry(ApiModel):
    """A task that is not ready, and why (the operator's Ready condition)."""

    namespace: str
    task: str
    task_id: str
    plan: str
    priority: str
    phase: models.Phase
    reason: str | None
    message: str | None
    blocked_by: list[str]
    next_attempt_time: Timestamp | None


class Queue(ApiModel):
    """GET /api/v1/queue."""

    ready: list[QueueEntry]
    waiting: list[WaitingEntry]
    generated: Timestamp
    version: int


class Info(ApiModel):
    """GET /api/v1/info."""

    namespaces: list[str] | None = Field(description="Watched namespaces; null: all.")
    max_concurrent: int = Field(description="The global cap the queue is computed with.")
    synced: bool = Field(description="Every watch has listed once.")
    decided: bool = Field(
        description="The operator's decision (why tasks wait, the queue) is over this very "
        "view; false while a change is served before the decision over it is done."
    )
    tasks: int
    generated: Timestamp
    version: int


class Problem(ApiModel):
    """An error."""

    detail: str
