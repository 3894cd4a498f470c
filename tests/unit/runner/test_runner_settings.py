"""Settings precedence: flags > environment > task profile > defaults."""

from __future__ import annotations

from typing import Any

import pytest
from agent_api.models import DEFAULT_MODEL
from agent_runner import failures, settings
from agent_runner.task import parse_task

from .fakes import agent_task


def task_with_profile(**profile: Any) -> Any:
    import json

    return parse_task(
        json.dumps(agent_task(timeoutSeconds=1000, context={"profile": profile})),
        source="test",
    )


def test_defaults() -> None:
    resolved = settings.resolve_settings({}, {}, task_with_profile())

    assert resolved.model == DEFAULT_MODEL
    assert resolved.max_tokens == 8000 and resolved.max_turns == 50
    assert resolved.max_retry_wait_seconds == 120
    assert resolved.agent_name == "general-purpose"
    assert resolved.backend == "api"
    # The task's timeout, less a reserve for committing and reporting.
    assert resolved.timeout_seconds == 1000
    assert resolved.agent_seconds == 1000 - 50
    assert resolved.api_key is None


def test_profile_beats_defaults_env_beats_profile_flags_beat_env() -> None:
    task = task_with_profile(
        name="devops-engineer", model="claude-opus-4-6", maxTokens=100, maxTurns=7,
        systemPrompt="profile prompt",
    )
    env = {"AGENT_MODEL": "claude-haiku-4-5", "AGENT_MAX_TURNS": "9", "AGENT_NAME": "env-agent",
           "ANTHROPIC_API_KEY": " key-123456789 ", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}
    flags = {"model": "claude-sonnet-4-6", "max_tokens": None}

    from_profile = settings.resolve_settings({}, {}, task)
    resolved = settings.resolve_settings(flags, env, task)

    assert (from_profile.model, from_profile.max_tokens, from_profile.max_turns) == (
        "claude-opus-4-6", 100, 7
    )
    assert from_profile.agent_name == "devops-engineer"
    assert from_profile.system_prompt == "profile prompt"
    assert resolved.model == "claude-sonnet-4-6"  # flag
    assert resolved.max_turns == 9  # env
    assert resolved.max_tokens == 100  # profile
    assert resolved.agent_name == "env-agent"
    assert resolved.api_key == "key-123456789"
    assert resolved.base_url == "http://127.0.0.1:1"


def test_spec_agent_profile_names_the_agent_without_a_profile_context() -> None:
    import json

    task = parse_task(json.dumps(agent_task(agentProfile="security-specialist")), source="t")
    assert settings.resolve_settings({}, {}, task).agent_name == "security-specialist"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENT_MAX_TURNS": "many"}, "--max-turns / AGENT_MAX_TURNS: must be a whole number"),
        ({"AGENT_MAX_TOKENS": "0"}, "--max-tokens / AGENT_MAX_TOKENS: must be at least 1"),
        ({"AGENT_TIMEOUT_SECONDS": "-5"},
         "--timeout-seconds / AGENT_TIMEOUT_SECONDS: must be a positive"),
        ({"AGENT_BACKEND": "gpt"}, "--backend / AGENT_BACKEND: must be 'api' or 'claude-cli'"),
    ],
)
def test_bad_values_are_config_errors_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(failures.RunFailure) as caught:
        settings.resolve_settings({}, env, task_with_profile())
    assert caught.value.reason == "ConfigError"
    assert message in caught.value.message


def test_a_zero_retry_budget_is_allowed() -> None:
    resolved = settings.resolve_settings(
        {}, {"AGENT_MAX_RETRY_WAIT_SECONDS": "0"}, task_with_profile()
    )
    assert resolved.max_retry_wait_seconds == 0


@pytest.mark.parametrize(
    ("timeout", "reserve"), [(7200, 300), (1000, 50), (100, 30), (10, 5), (1.5, 0.75)]
)
def test_the_reserve_for_saving_work(timeout: float, reserve: float) -> None:
    assert settings.finish_reserve(timeout) == reserve
