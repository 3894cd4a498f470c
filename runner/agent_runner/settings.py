"""The runner's settings and where each one comes from.

Precedence, highest first: command-line flags, environment variables, the task's
``context.profile`` (the routed AgentProfile), then defaults. Resolution is a pure
function of those inputs so that it can be tested without a process around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from agent_api import attempt, models, settings_errors

from agent_runner import budget, failures
from agent_runner.task import TaskInput

Backend = Literal["api", "claude-cli"]

DEFAULT_MAX_TOKENS: Final = 8000
DEFAULT_MAX_TURNS: Final = 50
DEFAULT_IDLE_TIMEOUT_SECONDS: Final = 600.0
DEFAULT_MAX_RETRY_WAIT_SECONDS: Final = 120.0
DEFAULT_COMMAND_TIMEOUT_SECONDS: Final = 600.0
DEFAULT_AGENT_NAME: Final = models.FALLBACK_PROFILE
DEFAULT_REPORT_PATH: Final = "/dev/termination-log"
# Time kept back from the attempt's wall clock (the task's timeoutSeconds, which is the
# Job's activeDeadlineSeconds) for committing, pushing and reporting before Kubernetes
# stops the pod: 5 %, at least 30 s and at most 300 s, but never more than half.
FINISH_RESERVE_FRACTION: Final = 0.05
FINISH_RESERVE_MIN_SECONDS: Final = 30.0
FINISH_RESERVE_MAX_SECONDS: Final = 300.0

ENV_NAMES: Final[dict[str, str]] = {
    "model": attempt.ENV_MODEL,
    "system_prompt": "AGENT_SYSTEM_PROMPT",
    "max_tokens": attempt.ENV_MAX_TOKENS,
    "max_turns": attempt.ENV_MAX_TURNS,
    "timeout_seconds": attempt.ENV_TIMEOUT_SECONDS,
    "idle_timeout_seconds": "AGENT_IDLE_TIMEOUT_SECONDS",
    "max_retry_wait_seconds": "AGENT_MAX_RETRY_WAIT_SECONDS",
    "command_timeout_seconds": "AGENT_COMMAND_TIMEOUT_SECONDS",
    "agent_name": attempt.ENV_AGENT_NAME,
    "backend": "AGENT_BACKEND",
}


@dataclass(frozen=True)
class Settings:
    """Everything that shapes one attempt, after precedence is applied."""

    model: str
    system_prompt: str
    max_tokens: int  # output tokens per model turn
    max_turns: int  # model calls in the attempt
    timeout_seconds: float  # wall clock of the whole attempt, from the runner's start
    idle_timeout_seconds: float  # longest wait for one model reply or one command
    max_retry_wait_seconds: float  # total backoff sleep on 429/529/5xx
    command_timeout_seconds: float  # one shell command
    agent_name: str
    backend: Backend
    api_key: str | None
    base_url: str | None
    git_token: str | None
    allowance: budget.Allowance = field(default_factory=budget.Allowance)  # may spend

    @property
    def agent_seconds(self) -> float:
        """The agent's share of the wall clock; the rest is kept to save the work."""
        return self.timeout_seconds - finish_reserve(self.timeout_seconds)

    @property
    def wrap_up_seconds(self) -> float:
        """How long before the wall-clock limit the agent is told to finish."""
        return min(300.0, max(5.0, self.agent_seconds * 0.1))


def finish_reserve(timeout: float) -> float:
    """Seconds kept back from a wall-clock limit for committing, pushing and reporting."""
    reserve = min(
        FINISH_RESERVE_MAX_SECONDS,
        max(FINISH_RESERVE_MIN_SECONDS, timeout * FINISH_RESERVE_FRACTION),
    )
    return min(reserve, timeout / 2)


class InvalidSetting(failures.RunFailure):
    """A flag or variable with a value the runner cannot use: a ConfigError, and the line
    `agent-runner: invalid settings: ...` on stderr."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(
            failures.CONFIG_ERROR,
            f"{settings_errors.setting_name(name, env_prefix='AGENT_', env_names=ENV_NAMES)}: "
            f"{problem}",
        )


def _pick(name: str, flags: Mapping[str, Any], env: Mapping[str, str]) -> tuple[Any, str]:
    """The value of a setting and the setting's name, from the flag, else the variable."""
    flag = flags.get(name)
    if flag is not None:
        return flag, name
    value = env.get(ENV_NAMES[name])
    if value is not None and value.strip() != "":
        return value, name
    return None, name


def _positive_int(value: Any, source: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidSetting(source, f"must be a whole number, got {value!r}") from None
    if number < 1:
        raise InvalidSetting(source, "must be at least 1")
    return number


def _positive_float(value: Any, source: str, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidSetting(source, f"must be a number of seconds, got {value!r}") from None
    if number < 0 or (number == 0 and not allow_zero) or number != number:
        raise InvalidSetting(source, "must be a positive number of seconds")
    return number


def resolve_allowance(task: TaskInput) -> budget.Allowance:
    """The operator's allowance (context.budget); without one, the task's spec.budget."""
    given = task.context.budget
    if given.max_cost_usd is not None or given.max_tokens is not None:
        return budget.Allowance(
            max_cost_usd=given.max_cost_usd,
            max_tokens=given.max_tokens,
            basis=tuple(given.basis),
        )
    own = task.spec.budget
    if own.max_cost_usd is None and own.max_tokens is None:
        return budget.Allowance()
    return budget.Allowance(
        max_cost_usd=own.max_cost_usd,
        max_tokens=own.max_tokens,
        basis=("the task's spec.budget",),
    )


def resolve_settings(
    flags: Mapping[str, Any], env: Mapping[str, str], task: TaskInput
) -> Settings:
    """Apply flags > environment > task profile > defaults."""
    profile = task.context.profile

    model, _ = _pick("model", flags, env)
    model = str(model or profile.model or models.DEFAULT_MODEL)

    system_prompt, _ = _pick("system_prompt", flags, env)
    if system_prompt is None:
        system_prompt = profile.system_prompt or ""

    value, source = _pick("max_tokens", flags, env)
    max_tokens = (
        _positive_int(value, source)
        if value is not None
        else profile.max_tokens or DEFAULT_MAX_TOKENS
    )

    value, source = _pick("max_turns", flags, env)
    max_turns = (
        _positive_int(value, source)
        if value is not None
        else profile.max_turns or DEFAULT_MAX_TURNS
    )

    value, source = _pick("timeout_seconds", flags, env)
    timeout = (
        _positive_float(value, source)
        if value is not None
        else float(task.spec.timeout_seconds)
    )

    value, source = _pick("idle_timeout_seconds", flags, env)
    idle = (
        _positive_float(value, source) if value is not None else DEFAULT_IDLE_TIMEOUT_SECONDS
    )

    value, source = _pick("max_retry_wait_seconds", flags, env)
    retry_wait = (
        _positive_float(value, source, allow_zero=True)
        if value is not None
        else DEFAULT_MAX_RETRY_WAIT_SECONDS
    )

    value, source = _pick("command_timeout_seconds", flags, env)
    command_timeout = (
        _positive_float(value, source) if value is not None else DEFAULT_COMMAND_TIMEOUT_SECONDS
    )

    agent_name, _ = _pick("agent_name", flags, env)
    agent_name = str(
        agent_name or profile.name or task.spec.agent_profile or DEFAULT_AGENT_NAME
    )

    backend, source = _pick("backend", flags, env)
    backend = str(backend or "api")
    if backend not in ("api", "claude-cli"):
        raise InvalidSetting(source, f"must be 'api' or 'claude-cli', got {backend!r}")

    return Settings(
        model=model,
        system_prompt=str(system_prompt),
        max_tokens=max_tokens,
        max_turns=max_turns,
        timeout_seconds=timeout,
        idle_timeout_seconds=idle,
        max_retry_wait_seconds=retry_wait,
        command_timeout_seconds=command_timeout,
        agent_name=agent_name,
        backend="claude-cli" if backend == "claude-cli" else "api",
        api_key=(env.get("ANTHROPIC_API_KEY") or "").strip() or None,
        base_url=(env.get("ANTHROPIC_BASE_URL") or "").strip() or None,
        git_token=(env.get("GIT_TOKEN") or "").strip() or None,
        allowance=resolve_allowance(task),
    )
