"""The `orchestration.coditect.ai/v1alpha1` API: AgentTask, AgentPlan, AgentProfile.

These pydantic models are the single source of the CRD schemas: `agent_api.crdgen`
turns them into `crds/*.yaml`, and every component (operator, sync sidecar, runner)
reads and writes the objects through them. A field's description here is what
`kubectl explain` prints, so it is written for the person applying the object.

Field names are camelCase on the wire (Kubernetes convention) and snake_case in
Python; both are accepted when constructing a model.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "orchestration.coditect.ai"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Labels and annotations the project puts on objects.
LABEL_PLAN = f"{GROUP}/plan"
LABEL_MILESTONE = f"{GROUP}/milestone"
LABEL_TASK = f"{GROUP}/task"
LABEL_TASK_ID = f"{GROUP}/task-id"
LABEL_PROFILE = f"{GROUP}/profile"
LABEL_ATTEMPT = f"{GROUP}/attempt"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

DEFAULT_TASK_ID_PATTERN = r"T\d{3}\.\d{3}"
DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_RUNNER_IMAGE = "ghcr.io/coditect-ai/agent-orchestrator-runner:0.1.0"
DEFAULT_API_KEY_SECRET = "anthropic-api-key"
DEFAULT_API_KEY_KEY = "ANTHROPIC_API_KEY"
FALLBACK_PROFILE = "general-purpose"

Priority = Literal["P0", "P1", "P2", "P3"]
PRIORITIES: tuple[Priority, ...] = ("P0", "P1", "P2", "P3")  # dispatch order: P0 first
DEFAULT_PRIORITY: Priority = "P2"
Phase = Literal[
    "Pending",
    "Blocked",
    "Queued",
    "Running",
    "Retrying",
    "AwaitingReview",
    "Succeeded",
    "Failed",
    "Rejected",
    "Cancelled",
]
PHASES: tuple[Phase, ...] = get_args(Phase)  # in the order of the Literal
ReviewMode = Literal["none", "pr-open", "merged"]


def phase_key(phase: str) -> str:
    """A phase as a PhaseCounts field: AwaitingReview -> awaiting_review."""
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(phase))


ForgeType = Literal["github", "gitlab"]
ConditionStatus = Literal["True", "False", "Unknown"]
CircuitState = Literal["Closed", "Open", "HalfOpen"]

# A Kubernetes object name (RFC 1123 subdomain), used for references to other objects.
ObjectName = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
]
TaskId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$",
        description="A task ID such as T001.009.",
    ),
]
Timestamp = Annotated[
    str, Field(json_schema_extra={"format": "date-time"}, description="RFC 3339 time.")
]
# A completion check (spec.verify of a profile or a task): one shell command line.
MAX_VERIFY_COMMANDS = 20
VerifyCommand = Annotated[
    str, Field(min_length=1, max_length=4096, description="A shell command (bash -c).")
]


class ApiModel(BaseModel):
    """Base of every API type: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
    )

    def to_api(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --------------------------------------------------------------------------- shared


class Condition(ApiModel):
    """An observation of one aspect of the object's state (Kubernetes convention)."""

    type: str = Field(
        min_length=1, max_length=316, description="Type of condition in CamelCase, e.g. Ready."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        default="Unknown",
        max_length=1024,
        description="A CamelCase, machine-readable reason for the last transition.",
    )
    message: str = Field(default="", max_length=32768, description="A human-readable explanation.")
    last_transition_time: Timestamp | None = Field(
        default=None, description="When the status last changed."
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="The metadata.generation this condition was computed from.",
    )


class SecretKeyRef(ApiModel):
    """A key in a Secret in the same namespace."""

    name: ObjectName = Field(description="Name of the Secret.")
    key: str = Field(
        default="token", min_length=1, max_length=253, description="Key within the Secret."
    )


class RepositoryForge(ApiModel):
    """The forge hosting a repository, where each task's branch becomes a pull request."""

    type: ForgeType = Field(description="github or gitlab.")
    api_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        pattern=r"^https?://[^\s/?#@]+(/[^\s?#]*)?$",
        description="API root. Default: https://api.github.com for github.com, "
        "<scheme>://<host>/api/v3 for other GitHub hosts, <scheme>://<host>/api/v4 for "
        "GitLab. Its host must be on the credential's allowed hosts.",
    )
    project: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$",
        description="owner/name (GitHub) or group/name (GitLab). Default: the path of "
        "the repository URL without .git.",
    )


class Repository(ApiModel):
    """A git repository an agent works in."""

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Clone URL (https://, ssh:// or file://).",
    )
    branch: str = Field(
        default="main",
        min_length=1,
        max_length=255,
        description="Branch to start from. The agent works on branch agent/<taskId>.",
    )
    credentials_secret: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding an access token for cloning and pushing. "
        "Omit for public or file:// repositories.",
    )
    forge: RepositoryForge | None = Field(
        default=None,
        description="The forge hosting the repository: a successful attempt opens (or "
        "updates) a pull request from agent/<taskId> to spec.repository.branch, with the "
        "token of credentialsSecret. See docs/review.md.",
    )


# Money in US dollars: a budget's bounds (a cent to a million dollars).
MIN_BUDGET_USD = 0.01
MAX_BUDGET_USD = 1_000_000.0
MAX_BUDGET_TOKENS = 10**12


def _at_least_a_cent(*fields: str) -> ConfigDict:
    """CEL rules for the money fields: the API server compares an integer value with the
    schema's minimum cast to an integer (0 would pass `minimum: 0.01`), CEL does not."""
    return ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"!has(self.{name}) || self.{name} >= {MIN_BUDGET_USD}",
                    "message": f"{name} must be at least {MIN_BUDGET_USD} (a cent); leave it "
                    "out for no limit",
                    "fieldPath": f".{name}",
                }
                for name in fields
            ]
        }
    )


def _usd_limit(description: str) -> Any:
    return Field(
        default=None,
        ge=MIN_BUDGET_USD,
        le=MAX_BUDGET_USD,
        alias="maxCostUSD",
        description=description,
    )


class TaskBudget(ApiModel):
    """What all attempts of a task may spend together."""

    model_config = _at_least_a_cent("maxCostUSD")

    max_cost_usd: float | None = _usd_limit(
        "Estimated cost in US dollars all attempts of the task may use together (the "
        "runner's price table, cache reads and writes included). A running attempt stops "
        "when it reaches what is left (BudgetExceeded); with nothing left no attempt "
        "starts. A rerun keeps the spend so far: raise the budget to run again."
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BUDGET_TOKENS,
        description="Model tokens (input, cached input and output) all attempts of the task "
        "may use together.",
    )


class PlanBudget(ApiModel):
    """What a plan's attempts may spend, in total and per UTC day."""

    model_config = _at_least_a_cent("maxCostUSD", "dailyCostUSD")

    max_cost_usd: float | None = _usd_limit(
        "Estimated cost in US dollars all attempts of the plan's tasks may use in total. "
        "No attempt starts while the recorded spend plus what the running attempts "
        "reserved reaches it; each attempt may use at most what was left when it started."
    )
    daily_cost_usd: float | None = Field(
        default=None,
        ge=MIN_BUDGET_USD,
        le=MAX_BUDGET_USD,
        alias="dailyCostUSD",
        description="Estimated cost in US dollars the plan's attempts may use per UTC day "
        "(counted by the day the operator records an attempt's cost, plus what the "
        "running attempts reserved). It starts again at 00:00 UTC.",
    )


class ProfileBudget(ApiModel):
    """The cap of one attempt of a profile."""

    model_config = _at_least_a_cent("maxCostUSD")

    max_cost_usd: float | None = _usd_limit(
        "Estimated cost in US dollars one attempt may use; the attempt stops when it "
        "reaches it (BudgetExceeded). It is also what the attempt reserves of its plan's "
        "budget, so that several attempts of a budgeted plan can run at once."
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BUDGET_TOKENS,
        description="Model tokens (input, cached input and output) one attempt may use.",
    )


class Spend(ApiModel):
    """What a task's attempts spent, as their reports said."""

    cost_usd: float = Field(
        default=0.0, ge=0, alias="costUSD", description="Estimated cost of all attempts, USD."
    )
    tokens: int = Field(default=0, ge=0, description="Model tokens of all attempts.")
    day: str | None = Field(
        default=None,
        max_length=10,
        description="The UTC day (YYYY-MM-DD) of dayCostUSD: the last day a cost was recorded.",
    )
    day_cost_usd: float = Field(
        default=0.0, ge=0, alias="dayCostUSD", description="Cost recorded on that day, USD."
    )


# --------------------------------------------------------------------------- AgentTask


class AgentTaskSpec(ApiModel):
    """The desired state of one unit of work."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.dependsOn) || !(self.taskId in self.dependsOn)",
                    "message": "a task may not depend on itself: remove spec.taskId "
                    "from spec.dependsOn",
                    "fieldPath": ".dependsOn",
                },
            ]
        }
    )

    task_id: TaskId = Field(
        description="The human task ID, e.g. T001.009; unique within a plan. Other tasks "
        "name it in their dependsOn.",
    )
    title: str = Field(min_length=1, max_length=1024, description="One-line summary of the work.")
    description: str = Field(
        default="",
        max_length=65536,
        description="Full text of the task, given to the agent and matched by profile rules.",
    )
    priority: Priority = Field(
        default=DEFAULT_PRIORITY, description="P0 (first) to P3 (last). Ready tasks run P0 first."
    )
    depends_on: list[TaskId] = Field(
        default_factory=list,
        max_length=256,
        description="Task IDs (spec.taskId) of tasks in the same plan, or the same "
        "namespace without a plan, that must succeed (or be marked done) before this "
        "task may run.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    gates: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        default_factory=list,
        max_length=64,
        description="Free-text blockers, e.g. 'Infrastructure FDB operational'. The task "
        "waits until the list is empty.",
    )
    done: bool = Field(
        default=False,
        description="Marked done by a person: never dispatched, and counts as succeeded "
        "for dependents.",
    )
    agent_profile: ObjectName | None = Field(
        default=None,
        description="Name of the AgentProfile to use, overriding the keyword rules.",
    )
    plan: ObjectName | None = Field(
        default=None,
        description="Name of the AgentPlan this task belongs to. Without it the "
        "namespace's default plan settings apply.",
    )
    timeout_seconds: int = Field(
        default=7200,
        ge=1,
        le=604800,
        description="Wall-clock limit of one attempt (the Job's activeDeadlineSeconds).",
    )
    max_retries: int | None = Field(
        default=None,
        ge=0,
        le=20,
        description="Retries after a failed attempt before the task is Failed. Default: "
        "the plan's retry.maxRetries (3).",
    )
    suspend: bool = Field(
        default=False,
        description="Hold the task. A running attempt is cancelled (its Job deleted) and "
        "does not count as a failure; setting it back to false re-queues the task.",
    )
    repository: Repository | None = Field(
        default=None, description="Git repository for coding work."
    )
    rerun: str | None = Field(
        default=None,
        max_length=128,
        description="Set to a new value (e.g. the current time) to run a finished task "
        "again as a new run. The sync sidecar sets it when a person unticks a succeeded "
        "task's box.",
    )
    verify: list[VerifyCommand] = Field(
        default_factory=list,
        max_length=MAX_VERIFY_COMMANDS,
        description="Completion checks of this task: shell commands the runner runs in the "
        "workspace after the agent reports it is done, after the profile's spec.verify. "
        "The attempt succeeds only if every one exits 0.",
    )
    budget: TaskBudget = Field(
        default_factory=TaskBudget,
        description="Spending limits across all attempts of this task. The plan's budget "
        "(for a task without a plan, the namespace's default plan's) and the profile's "
        "per-attempt cap apply as well: an attempt may use the least of them.",
    )


class TaskResult(ApiModel):
    """What the agent reported for the last finished attempt."""

    status: str | None = Field(
        default=None, max_length=64, description="The runner's status, e.g. succeeded."
    )
    summary: str = Field(default="", max_length=8192, description="What the agent did.")
    files_changed: list[str] = Field(
        default_factory=list, max_length=512, description="Paths changed (from git)."
    )
    tests_passed: bool | None = Field(
        default=None,
        description="Whether the tests passed, from the test runs' own summary lines "
        "(the agent's commands and the completion checks); unset when none ran.",
    )
    branch: str | None = Field(default=None, max_length=255, description="Git branch pushed.")
    commit: str | None = Field(default=None, max_length=64, description="Git commit pushed.")
    input_tokens: int = Field(default=0, ge=0, description="Input tokens used.")
    output_tokens: int = Field(default=0, ge=0, description="Output tokens used.")
    cost_usd: float = Field(
        default=0.0, ge=0, alias="costUSD", description="Estimated cost in US dollars."
    )
    pr_url: str | None = Field(
        default=None, max_length=2048, alias="prUrl", description="The pull request's page."
    )
    pr_number: int | None = Field(
        default=None, ge=1, alias="prNumber", description="The pull request's number."
    )
    reason: str | None = Field(
        default=None,
        max_length=256,
        description="Failure reason (RateLimited, Overloaded, Timeout, MaxTurns, "
        "AgentGaveUp, ToolError, VerifyFailed, NoWork, BudgetExceeded, ConfigError, "
        "DeadlineExceeded, JobDeleted, ...).",
    )


class ReviewStatus(ApiModel):
    """The pull request of the task's last successful attempt, as the operator last saw
    it on the forge (plans with spec.review merged)."""

    state: Literal["open", "merged", "closed"] = Field(
        default="open", description="open, merged, or closed without merge."
    )
    url: str | None = Field(default=None, max_length=2048, description="The pull request.")
    number: int | None = Field(default=None, ge=1)
    opened_time: Timestamp | None = Field(
        default=None, description="When the task started waiting for the review."
    )
    checked_time: Timestamp | None = Field(
        default=None, description="When the forge was last asked."
    )
    merged_time: Timestamp | None = Field(default=None, description="When it was merged.")
    message: str | None = Field(
        default=None, max_length=1024, description="The last problem asking the forge."
    )


class AttemptRecord(ApiModel):
    """One finished or running attempt."""

    number: int = Field(ge=1, description="Attempt number, from 1.")
    job: str = Field(description="Name of the attempt's Job.")
    start_time: Timestamp | None = None
    completion_time: Timestamp | None = None
    outcome: Literal["Running", "Succeeded", "Failed", "Cancelled"] = "Running"
    reason: str | None = Field(default=None, max_length=256)
    allowance_usd: float | None = Field(
        default=None,
        ge=0,
        alias="allowanceUSD",
        description="What the attempt was allowed to spend (USD), reserved of its plan's "
        "budget while it runs; unset when no budget applied.",
    )
    cost_usd: float | None = Field(
        default=None, ge=0, alias="costUSD", description="What it reported it spent (USD)."
    )


class AgentTaskStatus(ApiModel):
    """The observed state of the task, written by the operator."""

    phase: Phase | None = Field(
        default=None,
        description="Summary for people: Pending, Blocked, Queued, Running, Retrying, "
        "AwaitingReview (succeeded; its pull request waits for a merge), Succeeded, "
        "Failed, Rejected (its pull request was closed without merge) or Cancelled.",
    )
    message: str | None = Field(default=None, max_length=4096, description="Why it is so.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready (may run), Routed (profile chosen), Succeeded.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    observed_generation: int | None = Field(default=None, ge=0)
    agent_profile: str | None = Field(default=None, description="The profile that runs it.")
    matched_rule: str | None = Field(
        default=None,
        description="Why that profile: 'spec.agentProfile', the matching rule, or 'fallback'.",
    )
    blocked_by: list[str] = Field(
        default_factory=list, description="Task IDs (or gates) that hold this task back."
    )
    attempts: int = Field(default=0, ge=0, description="Attempts started (cancelled ones too).")
    failed_attempts: int = Field(
        default=0, ge=0, description="Attempts that failed; retries stop at maxRetries."
    )
    disruptions: int = Field(
        default=0,
        ge=0,
        description="Attempts the cluster ended (eviction, node drain, preemption). Not "
        "counted against maxRetries nor by the circuit breaker; the task fails after 5.",
    )
    current_job: str | None = Field(default=None, description="The running attempt's Job.")
    history: list[AttemptRecord] = Field(
        default_factory=list, max_length=20, description="The last attempts, newest last."
    )
    queued_time: Timestamp | None = Field(
        default=None, description="When the task last became ready to run."
    )
    start_time: Timestamp | None = Field(default=None, description="First attempt's start.")
    completion_time: Timestamp | None = Field(default=None, description="When it finished.")
    next_attempt_time: Timestamp | None = Field(
        default=None, description="When the next retry may start."
    )
    result: TaskResult | None = None
    spend: Spend = Field(
        default_factory=Spend,
        description="What the task's attempts spent so far (all runs), against spec.budget.",
    )
    review: ReviewStatus | None = Field(
        default=None, description="The pull request under review (spec.review merged)."
    )
    observed_rerun: str | None = Field(
        default=None, description="The spec.rerun value the current run answers."
    )


def rerun_requested(rerun: str | None, observed_rerun: str | None) -> bool:
    """Whether a person asked for a new run: `spec.rerun` differs from the value the
    current run answers (`status.observedRerun`); unset and empty are the same."""
    return (rerun or None) != (observed_rerun or None)


class ObjectMeta(BaseModel):
    """The parts of metadata the project reads; the rest passes through untouched."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None
    uid: str | None = None
    creation_timestamp: str | None = Field(default=None, alias="creationTimestamp")
    resource_version: str | None = Field(default=None, alias="resourceVersion")


class Resource(ApiModel):
    """Common envelope of the three kinds."""

    model_config = ConfigDict(extra="ignore")

    kind_name: ClassVar[str]
    plural: ClassVar[str]
    singular: ClassVar[str]
    short_names: ClassVar[list[str]] = []
    printer_columns: ClassVar[list[dict[str, Any]]] = []

    api_version: Literal["orchestration.coditect.ai/v1alpha1"] = (
        "orchestration.coditect.ai/v1alpha1"
    )
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


class AgentTask(Resource):
    """One unit of work, run by an agent in one Job per attempt."""

    kind_name = "AgentTask"
    plural = "agenttasks"
    singular = "agenttask"
    short_names = ["atask"]
    printer_columns = [
        {"name": "Task", "type": "string", "jsonPath": ".spec.taskId"},
        {"name": "Priority", "type": "string", "jsonPath": ".spec.priority"},
        {"name": "Agent", "type": "string", "jsonPath": ".status.agentProfile"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Attempts", "type": "integer", "jsonPath": ".status.attempts"},
        {"name": "Cost", "type": "number", "jsonPath": ".status.spend.costUSD"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Blocked-By", "type": "string", "jsonPath": ".status.blockedBy", "priority": 1},
        {"name": "PR", "type": "string", "jsonPath": ".status.result.prUrl", "priority": 1},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    ]

    kind: Literal["AgentTask"] = "AgentTask"
    spec: AgentTaskSpec
    status: AgentTaskStatus = Field(default_factory=AgentTaskStatus)


# --------------------------------------------------------------------------- AgentPlan


class PlanSource(ApiModel):
    """Where the plan's markdown lives, for the sync sidecar."""

    path: str = Field(
        min_length=1,
        max_length=4096,
        description="Path of the markdown file (inside the git repository in git mode).",
    )
    git: Repository | None = Field(
        default=None, description="Git repository holding the file (git mode)."
    )
    id_pattern: str = Field(
        default=DEFAULT_TASK_ID_PATTERN,
        min_length=1,
        max_length=256,
        description="Regular expression of a task ID in the markdown.",
    )


class RetryPolicy(ApiModel):
    """How failed attempts are retried."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.backoffCapSeconds >= self.backoffBaseSeconds",
                    "message": "retry.backoffCapSeconds must be at least retry.backoffBaseSeconds",
                },
            ]
        }
    )

    max_retries: int = Field(
        default=3, ge=0, le=20, description="Default retries for tasks that set none."
    )
    backoff_base_seconds: int = Field(
        default=2,
        ge=1,
        le=86400,
        description="Delay before the first retry; it doubles with each further failure.",
    )
    backoff_cap_seconds: int = Field(
        default=600, ge=1, le=86400, description="Longest delay between retries."
    )


class CircuitBreakerPolicy(ApiModel):
    """Stops dispatch in a plan after a run of failures."""

    consecutive_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed attempts in a row (within the plan) that open the circuit.",
    )
    cooldown_seconds: int = Field(
        default=300,
        ge=1,
        le=86400,
        description="How long the circuit stays open before one trial attempt.",
    )


class AgentPlanSpec(ApiModel):
    """The desired state of a plan: its source and how its tasks run."""

    source: PlanSource | None = Field(
        default=None, description="Markdown source, read by the sync sidecar."
    )
    max_concurrent: int = Field(
        default=5, ge=1, le=1000, description="Attempts of this plan running at once."
    )
    retry: RetryPolicy = Field(
        default_factory=RetryPolicy,
        # A full default (not {}): the CEL rule is checked against the default as written.
        json_schema_extra={"default": RetryPolicy().to_api()},
    )
    circuit_breaker: CircuitBreakerPolicy = Field(default_factory=CircuitBreakerPolicy)
    paused: bool = Field(
        default=False,
        description="Dispatch nothing new; running attempts finish.",
    )
    budget: PlanBudget = Field(
        default_factory=PlanBudget,
        description="Spending limits of the plan's attempts, in total and per UTC day. The "
        "namespace's default plan's budget applies to the tasks without a plan (counted "
        "apart from the default plan's own tasks).",
    )
    review: ReviewMode = Field(
        default="none",
        description="What a task whose repository names a forge needs before its "
        "dependents may start: none (the attempt succeeded), pr-open (its pull request "
        "is open, which a successful attempt makes so) or merged (a person merged it; "
        "until then the task is AwaitingReview, and Rejected if it is closed unmerged).",
    )
    api_key_secret: SecretKeyRef = Field(
        default_factory=lambda: SecretKeyRef(name=DEFAULT_API_KEY_SECRET, key=DEFAULT_API_KEY_KEY),
        description="Secret key holding the Anthropic API key for the plan's agents.",
        json_schema_extra={
            "default": SecretKeyRef(name=DEFAULT_API_KEY_SECRET, key=DEFAULT_API_KEY_KEY).to_api()
        },
    )


class PhaseCounts(ApiModel):
    """Tasks per phase."""

    pending: int = 0
    blocked: int = 0
    queued: int = 0
    running: int = 0
    retrying: int = 0
    awaiting_review: int = 0
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    cancelled: int = 0


class CircuitStatus(ApiModel):
    """The plan's circuit breaker."""

    state: CircuitState = Field(default="Closed", description="Closed, Open or HalfOpen.")
    consecutive_failures: int = Field(default=0, ge=0)
    opened_time: Timestamp | None = None
    retry_time: Timestamp | None = Field(
        default=None, description="When the open circuit allows one trial attempt."
    )


class PlanSpend(ApiModel):
    """What the plan's attempts spent, against spec.budget."""

    cost_usd: float = Field(
        default=0.0,
        ge=0,
        alias="costUSD",
        description="Recorded cost of the attempts of the plan's current tasks, USD.",
    )
    day: str | None = Field(
        default=None, max_length=10, description="The UTC day (YYYY-MM-DD) of todayCostUSD."
    )
    today_cost_usd: float = Field(
        default=0.0, ge=0, alias="todayCostUSD", description="Cost recorded that day, USD."
    )
    reserved_usd: float = Field(
        default=0.0,
        ge=0,
        alias="reservedUSD",
        description="What the running attempts may still spend (their allowances), USD.",
    )
    remaining_usd: float | None = Field(
        default=None,
        ge=0,
        alias="remainingUSD",
        description="What new attempts may still spend: the least of the total and today's "
        "budget left after the recorded spend and the reservations; unset without a budget.",
    )


class AgentPlanStatus(ApiModel):
    """The observed state of the plan, written by the operator."""

    counts: PhaseCounts = Field(default_factory=PhaseCounts)
    total: int = Field(default=0, ge=0)
    progress: str = Field(default="0/0", description="Succeeded (or done) / total.")
    running: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    circuit: CircuitStatus = Field(default_factory=CircuitStatus)
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    observed_generation: int | None = Field(default=None, ge=0)
    last_sync_time: Timestamp | None = Field(
        default=None, description="When the sync sidecar last applied the markdown."
    )
    spend: PlanSpend = Field(default_factory=PlanSpend)


class AgentPlan(Resource):
    """A plan, usually one markdown file; it owns its tasks."""

    kind_name = "AgentPlan"
    plural = "agentplans"
    singular = "agentplan"
    short_names = ["aplan"]
    printer_columns = [
        {"name": "Progress", "type": "string", "jsonPath": ".status.progress"},
        {"name": "Running", "type": "integer", "jsonPath": ".status.running"},
        {"name": "Failed", "type": "integer", "jsonPath": ".status.failed"},
        {"name": "Circuit", "type": "string", "jsonPath": ".status.circuit.state"},
        {"name": "Spent", "type": "number", "jsonPath": ".status.spend.costUSD"},
        {"name": "Remaining", "type": "number", "jsonPath": ".status.spend.remainingUSD"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]

    kind: Literal["AgentPlan"] = "AgentPlan"
    spec: AgentPlanSpec = Field(default_factory=AgentPlanSpec)
    status: AgentPlanStatus = Field(default_factory=AgentPlanStatus)


# --------------------------------------------------------------------------- AgentProfile

Quantity = Annotated[
    str | int,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]


class Resources(ApiModel):
    """CPU and memory for the agent container (Kubernetes quantities)."""

    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class Toleration(ApiModel):
    """A pod toleration (core/v1 Toleration)."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


# Environment variables the operator sets on every agent container itself.
RESERVED_ENV = (
    "AGENT_TASK_JSON",
    "AGENT_MODEL",
    "AGENT_MAX_TOKENS",
    "AGENT_MAX_TURNS",
    "AGENT_TIMEOUT_SECONDS",
    "AGENT_NAME",
    "AGENT_TASK_FILE",
    "AGENT_EXECUTOR_SOCKET",
    "ANTHROPIC_API_KEY",
    "GIT_TOKEN",
    "HOME",
)


class EnvVar(ApiModel):
    """A plain environment variable for the agent container, e.g. a runner setting
    (AGENT_IDLE_TIMEOUT_SECONDS, AGENT_BACKEND) or ANTHROPIC_BASE_URL for a proxy."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(self.name in [" + ", ".join(f"'{n}'" for n in RESERVED_ENV) + "])",
                    "message": "this variable is set by the operator and cannot be overridden "
                    "in a profile: " + ", ".join(RESERVED_ENV),
                    "fieldPath": ".name",
                },
            ]
        }
    )

    name: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Variable name.",
    )
    value: str = Field(default="", max_length=32768, description="Its value.")


class PodSettings(ApiModel):
    """Settings for the agent pods of a profile."""

    annotations: dict[str, str] = Field(default_factory=dict, description="Pod annotations.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra pod labels.")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    runtime_class_name: str | None = Field(
        default=None,
        description="RuntimeClass of the attempt pod, e.g. gvisor or kata: a kernel "
        "boundary around the workspace container, where the agent's commands run (it "
        "applies to the whole pod, runner included). See docs/security.md.",
    )
    service_account_name: str | None = Field(
        default=None,
        description="ServiceAccount of the pod (its token is never mounted).",
    )
    priority_class_name: str | None = None


# CEL's regular expressions are RE2 (Go's regexp): `matches` compiles its argument when it
# runs, so a rule that does not compile is an evaluation error, and the API server refuses
# the object with the engine's message ("error parsing regexp: ..."). The expression is
# true whatever the rule matches; only the compilation counts. A rule left as it was by an
# update passes without being compiled (`oldSelf`, whose `true ||` absorbs the error), so
# that a profile stored before this check can still get its status and other edits.
MATCH_IS_RE2: dict[str, Any] = {
    "rule": "(oldSelf.hasValue() && oldSelf.value() == self) || "
    "(''.matches(self) ? true : true)",
    "optionalOldSelf": True,
    "message": "spec.match must be an RE2 regular expression",
}


class AgentProfileSpec(ApiModel):
    """An agent type: which tasks it takes and how its Jobs run."""

    match: str | None = Field(
        default=None,
        max_length=4096,
        description="Keyword rule: an RE2 regular expression (linear-time; no "
        "backreferences or look-arounds) matched case-insensitively against the task's "
        "title and description, without the text of its 'blocked by:' gates. Empty: only "
        "tasks naming the profile in spec.agentProfile (or the fallback) use it. The API "
        "server refuses a rule its RE2 engine cannot compile; one the operator's cannot "
        "is skipped, and the Ready and RuleValid conditions say why.",
        json_schema_extra={"x-kubernetes-validations": [MATCH_IS_RE2]},
    )
    order: int = Field(
        default=100,
        ge=0,
        le=100000,
        description="Evaluation order of the rule; lower first, then by name.",
    )
    model: str = Field(
        default=DEFAULT_MODEL, min_length=1, max_length=128, description="Claude model ID."
    )
    system_prompt: str = Field(
        default="", max_length=65536, description="System prompt for the agent."
    )
    max_tokens: int = Field(
        default=8000, ge=1, le=200000, description="Max output tokens per model turn."
    )
    max_turns: int = Field(default=50, ge=1, le=1000, description="Max model turns in one attempt.")
    budget: ProfileBudget = Field(
        default_factory=ProfileBudget,
        description="The cap of one attempt of this profile; the task's and the plan's "
        "budgets may leave an attempt less.",
    )
    # --- completion checks: what makes an attempt a success
    verify: list[VerifyCommand] = Field(
        default_factory=list,
        max_length=MAX_VERIFY_COMMANDS,
        description="Completion checks: shell commands (e.g. 'pytest -q', 'ruff check .') "
        "the runner runs in the workspace after the agent reports it is done; the task's "
        "own spec.verify runs after them. The attempt succeeds only if every one exits 0; "
        "on a failure the agent gets one wrap-up round with the output, then the attempt "
        "fails as VerifyFailed.",
    )
    expect_changes: bool = Field(
        default=True,
        description="Whether an attempt must change files: an attempt that leaves the "
        "workspace (or the branch) as it found it fails as NoWork. Set false for profiles "
        "whose tasks only inspect or report.",
    )
    max_concurrent: int | None = Field(
        default=None, ge=1, le=1000, description="Attempts of this profile running at once."
    )
    image: str = Field(
        default=DEFAULT_RUNNER_IMAGE,
        min_length=1,
        max_length=1024,
        description="Container image of the agent runner (it holds the credentials, calls "
        "the model and runs git).",
    )
    workspace_image: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Container image of the workspace container, where every command of "
        "the agent runs, without any credential: a team's own toolchain image, any image "
        "with python3 (the executor is one standard-library file). Default: spec.image.",
    )
    resources: Resources = Field(default_factory=Resources)
    start_timeout_seconds: int = Field(
        default=300,
        ge=10,
        le=86400,
        description="How long an attempt's pod may take to start (scheduling, image pull, "
        "container creation) before the attempt is ended with the cause as its reason.",
    )
    retry_memory_factor: float | None = Field(
        default=None,
        ge=1.0,
        le=4.0,
        description="After an attempt ran out of memory (OutOfMemory), retry with the "
        "memory request and limit multiplied by this factor (again for each such attempt "
        "in a row). Unset: retry with the same memory.",
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=64,
        description="Extra environment variables for the agent container (runner settings "
        "such as AGENT_IDLE_TIMEOUT_SECONDS or AGENT_BACKEND, ANTHROPIC_BASE_URL). The "
        "variables the operator sets itself cannot be overridden.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )
    pod: PodSettings = Field(default_factory=PodSettings)


class AgentProfile(Resource):
    """An agent type, e.g. devops-engineer."""

    kind_name = "AgentProfile"
    plural = "agentprofiles"
    singular = "agentprofile"
    short_names = ["aprofile"]
    printer_columns = [
        {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
        {"name": "Match", "type": "string", "jsonPath": ".spec.match"},
        {"name": "Max", "type": "integer", "jsonPath": ".spec.maxConcurrent"},
        {"name": "Ready", "type": "string",
         "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Message", "type": "string",
         "jsonPath": '.status.conditions[?(@.type=="Ready")].message', "priority": 1},
    ]

    kind: Literal["AgentProfile"] = "AgentProfile"
    spec: AgentProfileSpec = Field(default_factory=AgentProfileSpec)
    status: AgentProfileStatus = Field(default_factory=lambda: AgentProfileStatus())


class AgentProfileStatus(ApiModel):
    """The observed state of the profile."""

    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready: the rule compiles as RE2 and the profile is within the "
        "operator's limits (False: InvalidRule or ProfileNotAllowed, with a Warning Event); "
        "RuleValid: the rule alone.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    running: int = Field(default=0, ge=0, description="Attempts of this profile running.")


AgentProfile.model_rebuild()

KINDS: tuple[type[Resource], ...] = (AgentTask, AgentPlan, AgentProfile)
