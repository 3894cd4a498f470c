"""Reading the task input: the AgentTask object plus the context the operator adds.

The shape of the input is the contract in `agent_api.attempt`; this module only finds the
input (``--task FILE`` or the environment) and turns a bad one into a ConfigError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent_api import attempt, models

from agent_runner import failures

TASK_ENV = attempt.ENV_TASK_JSON


@dataclass(frozen=True)
class TaskInput:
    """The validated task and its context."""

    task: models.AgentTask
    context: attempt.AttemptContext

    @property
    def spec(self) -> models.AgentTaskSpec:
        return self.task.spec

    @property
    def verify(self) -> list[str]:
        """The completion checks: the context's (the profile's, then the task's), or the
        task's own spec.verify when no operator gave a context."""
        if self.context.verify is not None:
            return list(self.context.verify)
        return list(self.spec.verify)

    @property
    def expect_changes(self) -> bool:
        return self.context.profile.expect_changes


def parse_task(text: str, *, source: str) -> TaskInput:
    """Validate the task input text; every problem is a ConfigError naming the field."""
    try:
        task, context = attempt.parse_task_input(text, source=source)
    except attempt.TaskInputError as error:
        raise failures.RunFailure(failures.CONFIG_ERROR, str(error)) from error
    return TaskInput(task=task, context=context)


def load_task(path: str | None, env: Mapping[str, str] = os.environ) -> TaskInput:
    """Read the task from ``--task FILE``, else the file $AGENT_TASK_FILE names (an
    attempt Job's ConfigMap), else $AGENT_TASK_JSON."""
    if path is None and (env.get(attempt.ENV_TASK_FILE) or "").strip():
        path = env[attempt.ENV_TASK_FILE].strip()
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise failures.RunFailure(
                failures.CONFIG_ERROR,
                f"cannot read the task file {path}: {error.strerror or error}",
            ) from error
        except UnicodeDecodeError as error:
            raise failures.RunFailure(
                failures.CONFIG_ERROR,
                f"the task file {path} is not UTF-8 text (byte {error.start}): pass the "
                "output of `kubectl get agenttask NAME -o json`",
            ) from error
        return parse_task(text, source=f"file {path}")
    env_text = env.get(TASK_ENV)
    if not env_text:
        raise failures.RunFailure(
            failures.CONFIG_ERROR,
            f"no task given: pass --task FILE, set {attempt.ENV_TASK_FILE} to a file or "
            f"{TASK_ENV} to the AgentTask JSON",
        )
    return parse_task(env_text, source=f"in ${TASK_ENV}")
