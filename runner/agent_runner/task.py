"""Reading the task input: the AgentTask object plus the context the operator adds.

The input is what ``kubectl get agenttask X -o json`` prints, with an optional top-level
``context`` key (the profile's settings, the attempt number, why the previous attempt
failed, and the dependencies' result summaries). The task part is validated with the
API's own models, so the runner and the CRD schema cannot disagree about its shape.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_api import models
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from agent_runner import failures

TASK_ENV = "AGENT_TASK_JSON"


class _ContextModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ProfileContext(_ContextModel):
    """The routed AgentProfile's settings; any may be missing."""

    name: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_turns: int | None = Field(default=None, ge=1)


class PreviousFailure(_ContextModel):
    """Why the previous attempt of this task failed."""

    reason: str | None = None
    summary: str = ""


class DependencyResult(_ContextModel):
    """What a task this one depends on reported."""

    task_id: str
    title: str = ""
    summary: str = ""


class TaskContext(_ContextModel):
    """What the operator adds to the AgentTask for the runner."""

    profile: ProfileContext = Field(default_factory=ProfileContext)
    attempt: int = Field(default=1, ge=1)
    previous_failure: PreviousFailure | None = None
    dependencies: list[DependencyResult] = Field(default_factory=list)


@dataclass(frozen=True)
class TaskInput:
    """The validated task and its context."""

    task: models.AgentTask
    context: TaskContext

    @property
    def spec(self) -> models.AgentTaskSpec:
        return self.task.spec


def _describe(error: ValidationError, prefix: str) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{prefix}{where}: {item['msg']}")
    return "; ".join(problems)


def parse_task(text: str, *, source: str) -> TaskInput:
    """Validate the task input text; every problem is a ConfigError naming the field."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise failures.RunFailure(
            failures.CONFIG_ERROR,
            f"the task input {source} is not valid JSON ({error}); pass the output of "
            "`kubectl get agenttask NAME -o json`",
        ) from error
    if not isinstance(data, dict):
        raise failures.RunFailure(
            failures.CONFIG_ERROR,
            f"the task input {source} must be a JSON object (an AgentTask), "
            f"not {type(data).__name__}",
        )
    data = dict(data)
    raw_context = data.pop("context", None)
    # The status is the operator's business; the runner reads only the spec.
    data.pop("status", None)
    if "spec" not in data:
        raise failures.RunFailure(
            failures.CONFIG_ERROR,
            f"the task input {source} has no 'spec': it must be an AgentTask object "
            "with spec.taskId and spec.title",
        )
    try:
        task = models.AgentTask.model_validate(data)
    except ValidationError as error:
        raise failures.RunFailure(
            failures.CONFIG_ERROR,
            f"the task input {source} is not a valid AgentTask: {_describe(error, '')}",
        ) from error
    try:
        context = TaskContext.model_validate(raw_context or {})
    except ValidationError as error:
        raise failures.RunFailure(
            failures.CONFIG_ERROR,
            f"the task input {source} has an invalid 'context': "
            f"{_describe(error, 'context.')}",
        ) from error
    return TaskInput(task=task, context=context)


def load_task(path: str | None, env: Mapping[str, str] = os.environ) -> TaskInput:
    """Read the task from ``--task FILE``, or from $AGENT_TASK_JSON without one."""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise failures.RunFailure(
                failures.CONFIG_ERROR,
                f"cannot read the task file {path}: {error.strerror or error}",
            ) from error
        return parse_task(text, source=f"file {path}")
    env_text = env.get(TASK_ENV)
    if not env_text:
        raise failures.RunFailure(
            failures.CONFIG_ERROR,
            f"no task given: pass --task FILE or set {TASK_ENV} to the AgentTask JSON",
        )
    return parse_task(env_text, source=f"in ${TASK_ENV}")
