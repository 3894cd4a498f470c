"""What the operator hands the runner for one attempt, and the names of how it travels.

The runner's input is the AgentTask object (what `kubectl get agenttask X -o json`
prints) with one extra top-level key, `context`: the routed profile's settings, the
attempt number, why the previous attempt failed, and the dependencies' results. The
operator encodes it (`encode_task_input`), the runner decodes it (`parse_task_input`);
both use the models below, so the two cannot disagree about its shape. A plain AgentTask
without `context` is valid input too, for a person trying the runner by hand.
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from agent_api import models

# --- environment variables the operator sets on the agent container
ENV_TASK_JSON: Final = "AGENT_TASK_JSON"  # the task input itself (by hand; not in Jobs)
ENV_TASK_FILE: Final = "AGENT_TASK_FILE"  # where the task input is (the Job's ConfigMap)
ENV_EXECUTOR_SOCKET: Final = "AGENT_EXECUTOR_SOCKET"  # the workspace executor's socket
ENV_MODEL: Final = "AGENT_MODEL"
ENV_MAX_TOKENS: Final = "AGENT_MAX_TOKENS"
ENV_MAX_TURNS: Final = "AGENT_MAX_TURNS"
ENV_TIMEOUT_SECONDS: Final = "AGENT_TIMEOUT_SECONDS"
ENV_AGENT_NAME: Final = "AGENT_NAME"
ENV_API_KEY: Final = "ANTHROPIC_API_KEY"
ENV_GIT_TOKEN: Final = "GIT_TOKEN"
ENV_HOME: Final = "HOME"
RESERVED_ENV: Final = models.RESERVED_ENV  # the set a profile's spec.env may not override

# --- the task input as a file, mounted read-only into the runner's container (an env var
# is capped at 128 KiB): the pod's own annotation through the downward API when it fits,
# else a ConfigMap named after the attempt's Job and owned by it
TASK_INPUT_ANNOTATION: Final = f"{models.GROUP}/task-input"
# The API server caps all of an object's annotations together at 256 KiB; an input up to
# this size travels in the Job itself, which saves the ConfigMap's write per attempt.
INLINE_TASK_INPUT_MAX_BYTES: Final = 128 * 1024
TASK_FILE_KEY: Final = "task.json"
TASK_FILE_DIR: Final = "/etc/agent-task"
TASK_FILE_PATH: Final = f"{TASK_FILE_DIR}/{TASK_FILE_KEY}"
# --- the workspace executor: installed into, and listening on, a volume both containers share
EXECUTOR_DIR: Final = "/run/agent-executor"
EXECUTOR_FILE: Final = f"{EXECUTOR_DIR}/executor.py"
EXECUTOR_SOCKET: Final = f"{EXECUTOR_DIR}/executor.sock"

# Annotations of the task that are the operator's or kubectl's bookkeeping, not the task's.
_BOOKKEEPING_PREFIXES: Final = (models.GROUP, "kopf.zalando.org")
_BOOKKEEPING_ANNOTATIONS: Final = ("kubectl.kubernetes.io/last-applied-configuration",)


class _ContextModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ProfileContext(_ContextModel):
    """The routed AgentProfile's settings; any may be missing."""

    name: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_turns: int | None = Field(default=None, ge=1)
    expect_changes: bool = True  # False: an attempt that changes no file may still succeed


class PreviousFailure(_ContextModel):
    """Why the previous attempt of this task failed."""

    reason: str | None = None
    summary: str = ""


class DependencyResult(_ContextModel):
    """What a task this one depends on reported."""

    task_id: str
    title: str = ""
    summary: str = ""


class AttemptBudget(_ContextModel):
    """What the attempt may spend: the least of the profile's cap per attempt, what is left
    of the task's budget and what was left of its plan's when it started. Unset: no limit."""

    max_cost_usd: float | None = Field(default=None, ge=0, alias="maxCostUSD")
    max_tokens: int | None = Field(default=None, ge=0)
    # Which budgets set the limits, in words for the agent and the report, e.g.
    # "the task's budget ($2.00 of $5.00 left)".
    basis: list[str] = Field(default_factory=list, max_length=8)


class AttemptContext(_ContextModel):
    """What the operator adds to the AgentTask for the runner."""

    profile: ProfileContext = Field(default_factory=ProfileContext)
    attempt: int = Field(default=1, ge=1)
    previous_failure: PreviousFailure | None = None
    dependencies: list[DependencyResult] = Field(default_factory=list)
    # The completion checks, the profile's spec.verify then the task's. None: not given
    # (a task run by hand), so the runner takes the task's own spec.verify.
    verify: list[models.VerifyCommand] | None = Field(
        default=None, max_length=2 * models.MAX_VERIFY_COMMANDS
    )
    budget: AttemptBudget = Field(default_factory=AttemptBudget)


class TaskInputError(ValueError):
    """The runner's input is not an AgentTask (with an optional valid context)."""


def encode_task_input(task: dict[str, Any], context: AttemptContext) -> str:
    """The AgentTask as the runner reads it: the object without server bookkeeping
    (managedFields, the operator's and kubectl's annotations), plus `context`."""
    meta = dict(task.get("metadata") or {})
    meta.pop("managedFields", None)
    meta["annotations"] = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith(_BOOKKEEPING_PREFIXES) and k not in _BOOKKEEPING_ANNOTATIONS
    }
    body = {**task, "metadata": meta, "context": context.model_dump(by_alias=True, mode="json")}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def _describe(error: ValidationError, prefix: str) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{prefix}{where}: {item['msg']}")
    return "; ".join(problems)


def parse_task_input(text: str, *, source: str) -> tuple[models.AgentTask, AttemptContext]:
    """Validates the runner's input; every problem is a TaskInputError naming the field."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise TaskInputError(
            f"the task input {source} is not valid JSON ({error}); pass the output of "
            "`kubectl get agenttask NAME -o json`"
        ) from error
    if not isinstance(data, dict):
        raise TaskInputError(
            f"the task input {source} must be a JSON object (an AgentTask), "
            f"not {type(data).__name__}"
        )
    data = dict(data)
    raw_context = data.pop("context", None)
    data.pop("status", None)  # the operator's business; the runner reads only the spec
    if "spec" not in data:
        raise TaskInputError(
            f"the task input {source} has no 'spec': it must be an AgentTask object "
            "with spec.taskId and spec.title"
        )
    try:
        task = models.AgentTask.model_validate(data)
    except ValidationError as error:
        raise TaskInputError(
            f"the task input {source} is not a valid AgentTask: {_describe(error, '')}"
        ) from error
    try:
        context = AttemptContext.model_validate(raw_context or {})
    except ValidationError as error:
        raise TaskInputError(
            f"the task input {source} has an invalid 'context': {_describe(error, 'context.')}"
        ) from error
    return task, context
