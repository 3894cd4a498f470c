"""The prompts: the plan's shape, plus dependencies and the previous failure."""

from __future__ import annotations

import json

from agent_runner import prompt
from agent_runner.task import parse_task

from .fakes import agent_task


def test_first_attempt_prompt_has_the_plans_shape() -> None:
    task = parse_task(json.dumps(agent_task()), source="t")

    text = prompt.build_task_prompt(task, agent_name="testing-specialist", branch=None)

    assert text.startswith("You are testing-specialist agent.\nTask: T001.001: Fix the add")
    assert "calc.add subtracts; make it add and test it." in text
    assert "Priority: P1" in text
    for line in ("1. What you did", "2. Files changed", "3. Tests passed", "4. Completion status"):
        assert line in text
    assert "previous attempt" not in text and "depends on" not in text


def test_a_retry_says_why_the_last_attempt_failed() -> None:
    body = agent_task(context={
        "attempt": 3,
        "previousFailure": {"reason": "Timeout", "summary": "tests hung " * 500},
        "dependencies": [{"taskId": "T000.001", "title": "DB", "summary": ""}],
    })
    task = parse_task(json.dumps(body), source="t")

    text = prompt.build_task_prompt(task, agent_name="a", branch="agent/T001.001")

    assert "This is attempt 3. The previous attempt failed (Timeout): tests hung" in text
    assert len(text) < 4000  # long summaries are clipped
    assert "- T000.001 (DB): (no summary)" in text


def test_the_system_prompt_keeps_the_profiles_words_first() -> None:
    text = prompt.build_system_prompt("Be terse.", branch="agent/T1")
    assert text.startswith("Be terse.\n\n")
    assert "git clone on branch agent/T1" in text and "`report`" in text
    assert "not a git repository" in prompt.build_system_prompt("", branch=None)


def test_the_wrap_up_notice_names_the_limit() -> None:
    assert "2 model turns left" in prompt.wrap_up_notice(turns_left=2, seconds_left=None)
    assert "about 30 seconds left" in prompt.wrap_up_notice(turns_left=None, seconds_left=30.4)


def test_the_agent_is_told_the_checks_before_it_starts() -> None:
    task = parse_task(json.dumps(agent_task()), source="t")

    text = prompt.build_task_prompt(
        task, agent_name="a", branch=None, checks=["pytest -q", "ruff check ."]
    )

    assert "the runner runs these completion checks" in text
    assert "- `pytest -q`\n- `ruff check .`" in text
    assert text.index("completion checks") < text.index("Execute this task and report")
    assert "completion checks" not in prompt.build_task_prompt(task, agent_name="a", branch=None)


def test_the_budget_is_told_only_when_there_is_one() -> None:
    task = parse_task(json.dumps(agent_task()), source="t")

    without = prompt.build_task_prompt(task, agent_name="a", branch=None)
    text = prompt.build_task_prompt(
        task, agent_name="a", branch=None, allowance="$2.00 of estimated model cost"
    )

    assert "Budget" not in without
    assert "Budget: this attempt may use $2.00 of estimated model cost" in text
    assert "one last turn" in text
    assert "what is left" in prompt.budget_notice("spent $2.10 of its $2.00 allowance")
