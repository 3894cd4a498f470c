"""The contract between the operator and the runner, end to end in one process.

The task input is the one the operator's Job builder writes (AGENT_TASK_JSON, encoded by
agent_api.attempt); the runner runs for real against the fake Messages API; its report and
exit code go through the operator's own reading (agent_api.report.parse_report and
agent_operator.results.failure_reason). Nothing is copied between the two sides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_api import attempt, failures, models
from agent_api import report as reports
from agent_operator import jobs, results

from .conftest import Run
from .fakes import FakeMessagesAPI, Reply, agent_task, api_error, ok, report_call, tool_use


def _operator_input(
    task: dict[str, Any], verify: list[str] | None = None
) -> tuple[str, dict[str, str]]:
    """The task file the operator would give this task's third attempt, and the
    plain env values it sets."""
    task = {**task, "metadata": {**task["metadata"], "uid": "uid-1", "namespace": "ns"}}
    inputs = jobs.JobInputs(
            task=task,
            attempt=3,
            profile_name="backend-developer",
            profile=models.AgentProfileSpec(model="claude-sonnet-4-6", max_turns=7),
            api_key=models.SecretKeyRef(name="key", key="K"),
            plan_name="",
            context=attempt.AttemptContext(
                profile=attempt.ProfileContext(name="backend-developer", max_turns=7),
                attempt=3,
                previous_failure=attempt.PreviousFailure(reason="ToolError", summary="tests red"),
                dependencies=[
                    attempt.DependencyResult(task_id="T000.001", title="API", summary="added /v1")
                ],
                verify=verify,
            ),
            ttl_seconds=60,
            created_by="test",
        )
    job = jobs.build(inputs)
    env = {
        e["name"]: e.get("value", "")
        for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env[attempt.ENV_TASK_FILE] == attempt.TASK_FILE_PATH
    carried = jobs.carried_task_input(job)  # what the runner's task file holds
    assert carried is not None
    return carried, env


def _operator_reads(run: Run) -> tuple[models.TaskResult, str | None]:
    message = run.raw.decode()
    result = reports.parse_report(message)
    if run.code == 0:
        return result, None
    return result, results.failure_reason(results.PodReport(run.code, message), result)


def test_a_successful_attempt_reads_back_field_for_field(
    run: Any, fake_api: FakeMessagesAPI, tmp_path: Path
) -> None:
    payload, _ = _operator_input(agent_task(), verify=["test -s notes.txt"])
    fake_api.reply(
        ok(tool_use("write_file", {"path": "notes.txt", "content": "work\n"})),
        report_call("Did the work."),
    )
    done = run(payload)
    assert done.code == 0, done.stdout
    result, reason = _operator_reads(done)
    assert reason is None
    assert result.status == "succeeded"
    assert result.summary == "Did the work.\n\nCompletion checks passed: `test -s notes.txt`."
    assert result.files_changed == ["notes.txt"]
    assert result.input_tokens == done.report["inputTokens"] > 0
    assert result.output_tokens == done.report["outputTokens"] > 0
    assert result.cost_usd == done.report["costUSD"] > 0
    # The runner read the operator's context: the dependency and the previous failure.
    prompt = json.dumps(fake_api.requests[0])
    assert "added /v1" in prompt and "tests red" in prompt


def test_a_config_error_is_read_as_one_and_not_retried(run: Any, fake_api: FakeMessagesAPI) -> None:
    payload, _ = _operator_input(agent_task())
    fake_api.then = Reply(api_error("authentication_error", "invalid x-api-key"), 401)
    failed = run(payload)
    result, reason = _operator_reads(failed)
    assert failed.code == failures.EXIT_CODES[failures.CONFIG_ERROR]
    assert reason == failures.CONFIG_ERROR == result.reason
    assert not failures.is_retried(reason)


def test_failed_checks_are_read_as_verify_failed_and_retried(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    payload, _ = _operator_input(agent_task(), verify=["echo 'lint: 3 problems'; exit 1"])
    fake_api.reply(
        ok(tool_use("write_file", {"path": "notes.txt", "content": "work\n"})),
        report_call("Did the work."),
        report_call("Could not fix the lint."),
    )
    failed = run(payload)
    result, reason = _operator_reads(failed)
    assert failed.code == failures.EXIT_CODES[failures.VERIFY_FAILED] == 9
    assert reason == failures.VERIFY_FAILED == result.reason
    assert failures.is_retried(reason)
    assert "lint: 3 problems" in result.summary
