"""Reading the task input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_runner import failures
from agent_runner.task import load_task, parse_task

from .fakes import agent_task


def test_kubectl_output_with_context_is_read() -> None:
    body = agent_task(
        repository={"url": "https://github.com/org/repo.git", "branch": "dev"},
        dependsOn=["T001.000"],
        context={
            "profile": {"name": "p", "maxTurns": 3},
            "attempt": 3,
            "previousFailure": {"reason": "Timeout", "summary": "slow"},
            "dependencies": [{"taskId": "T001.000", "summary": "done"}],
            "somethingNew": True,
        },
    )

    task = parse_task(json.dumps(body), source="test")

    assert task.spec.task_id == "T001.001" and task.spec.priority == "P1"
    assert task.spec.repository is not None and task.spec.repository.branch == "dev"
    assert task.context.attempt == 3 and task.context.profile.max_turns == 3
    assert task.context.previous_failure is not None
    assert task.context.previous_failure.reason == "Timeout"
    assert task.context.dependencies[0].task_id == "T001.000"


def test_without_context_the_defaults_apply() -> None:
    task = parse_task(json.dumps(agent_task()), source="test")
    assert task.context.attempt == 1 and task.context.dependencies == []


def test_an_unknown_spec_field_is_named() -> None:
    body = agent_task()
    body["spec"]["colour"] = "blue"
    with pytest.raises(failures.RunFailure) as caught:
        parse_task(json.dumps(body), source="file t.json")
    assert caught.value.reason == "ConfigError"
    assert "file t.json" in caught.value.message and "spec.colour" in caught.value.message


def test_a_missing_file_and_a_missing_variable_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(failures.RunFailure, match="cannot read the task file"):
        load_task(str(tmp_path / "nope.json"), {})
    with pytest.raises(failures.RunFailure, match="AGENT_TASK_JSON"):
        load_task(None, {})


def test_a_json_array_is_refused() -> None:
    with pytest.raises(failures.RunFailure, match="must be a JSON object"):
        parse_task("[]", source="test")


def test_the_checks_come_from_the_context_else_from_the_task() -> None:
    by_hand = parse_task(json.dumps(agent_task(verify=["pytest -q"])), source="t")
    assert by_hand.verify == ["pytest -q"] and by_hand.expect_changes is True
    # The operator's context holds the profile's checks and the task's, in that order.
    body = agent_task(
        verify=["pytest -q"],
        context={"verify": ["ruff check .", "pytest -q"], "profile": {"expectChanges": False}},
    )
    routed = parse_task(json.dumps(body), source="t")
    assert routed.verify == ["ruff check .", "pytest -q"] and routed.expect_changes is False
    with pytest.raises(failures.RunFailure, match=r"context\.verify"):
        parse_task(json.dumps(agent_task(context={"verify": [""]})), source="t")


def test_the_task_file_of_the_job_is_read_however_large(tmp_path: Path) -> None:
    """What the operator's Job builder writes into the attempt's ConfigMap (see
    tests/unit/operator/test_jobs_and_store.py): a 64 KiB CJK description, 200 results."""
    from agent_api import attempt

    body = agent_task(description="長い説明文" * (64 * 1024 // 15 + 1))
    context = attempt.AttemptContext(
        attempt=2,
        dependencies=[
            attempt.DependencyResult(task_id=f"T{i:03}", summary="結果" * 100) for i in range(200)
        ],
    )
    text = attempt.encode_task_input(body, context)
    assert len(text.encode()) > 128 * 1024
    path = tmp_path / "task.json"
    path.write_text(text, encoding="utf-8")

    task = load_task(None, {attempt.ENV_TASK_FILE: str(path), attempt.ENV_TASK_JSON: "{"})

    assert task.spec.description == body["spec"]["description"]
    assert len(task.context.dependencies) == 200 and task.context.attempt == 2
    with pytest.raises(failures.RunFailure) as missing:
        load_task(None, {attempt.ENV_TASK_FILE: str(tmp_path / "gone.json")})
    assert missing.value.reason == "ConfigError" and "gone.json" in missing.value.message
