"""A success is earned: completion checks, the wrap-up round, NoWork and testsPassed,
end to end (the real SDK against the fake Messages API, real git, real shell, real pytest).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from agent_api.failures import EXIT_CODES

from .fakes import (
    FakeMessagesAPI,
    Remote,
    Reply,
    agent_task,
    git,
    message,
    ok,
    report_call,
    tool_use,
)

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"
CHECK = f"PYTHONPATH=. {PYTEST} tests"
TEST_ADD = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
WRITE_TEST = ok(tool_use("write_file", {"path": "tests/test_calc.py", "content": TEST_ADD}))
FIX_ADD = ok(
    tool_use("edit_file", {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"})
)


def repo_task(remote: Remote, *, verify: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    context = kwargs.pop("context", {})
    if verify is not None:
        context = {**context, "verify": verify}
    return agent_task(
        repository={"url": remote.url, "branch": "main"}, context=context, **kwargs
    )


def sent_text(request: dict[str, Any]) -> str:
    return json.dumps(request["messages"][-1])


def test_failing_checks_get_one_wrap_up_round_then_fail_with_their_output(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        WRITE_TEST,
        report_call("Added a test for add."),
        report_call("I believe it is fine now."),  # the wrap-up round, without a fix
    )

    result = run(repo_task(remote, verify=[CHECK]))

    assert result.code == EXIT_CODES["VerifyFailed"] == 9
    report = result.report
    assert report["status"] == "failed" and report["reason"] == "VerifyFailed"
    summary = report["summary"]
    assert summary.startswith("the completion check `PYTHONPATH=. ")
    assert "again after the wrap-up round" in summary
    assert "assert -1 == 5" in summary and "1 failed in" in summary  # the output's tail
    assert report["testsPassed"] is False
    # Exactly one more round, which was shown the failing output.
    assert len(fake_api.requests) == 3
    wrap_up = fake_api.requests[2]["messages"][-1]["content"]
    assert wrap_up[0]["type"] == "tool_result"  # the report call is answered
    assert "Verification failed" in wrap_up[-1]["text"] and "1 failed" in wrap_up[-1]["text"]
    # The work is committed and pushed all the same.
    assert report["filesChanged"] == ["tests/test_calc.py"]
    assert report["commit"] == remote.rev("agent/T001.001")
    assert "Outcome: failed (VerifyFailed)" in git(
        remote.path, "log", "-1", "--format=%B", "agent/T001.001"
    )


def test_checks_that_pass_after_the_wrap_up_round_succeed(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(WRITE_TEST, report_call("Added a test."), FIX_ADD, report_call("Fixed add."))

    result = run(repo_task(remote, verify=[CHECK]))

    assert result.code == 0, result.stdout
    assert result.report["status"] == "succeeded" and result.report["reason"] is None
    assert result.report["testsPassed"] is True
    assert result.report["summary"] == (
        f"Fixed add.\n\nCompletion checks passed: `{CHECK}`."
    )
    assert len(fake_api.requests) == 4
    assert "return a + b" in remote.show("agent/T001.001", "calc.py")


def test_passing_checks_succeed_and_set_tests_passed(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(FIX_ADD, WRITE_TEST, report_call("Fixed add and tested it."))

    result = run(repo_task(remote, verify=[CHECK, "git diff --quiet HEAD -- README.md"]))

    assert result.code == 0, result.stdout
    assert result.report["testsPassed"] is True
    assert len(fake_api.requests) == 3  # no wrap-up round
    assert "[check 1] $ PYTHONPATH=." in result.stdout and "1 passed" in result.stdout


def test_the_prompt_lists_the_checks(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(FIX_ADD, report_call("Fixed."))

    run(repo_task(remote, verify=["ruff check .", "true"]))

    first = fake_api.requests[0]["messages"][0]["content"][0]["text"]
    assert "the runner runs these completion checks" in first
    assert "- `ruff check .`\n- `true`" in first


def test_a_command_named_like_a_test_runner_does_not_set_tests_passed(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        FIX_ADD,
        ok(tool_use("bash", {"command": "echo pytest"})),
        report_call("Fixed add; tests pass.", tests_passed=True, test_command="echo pytest"),
    )

    result = run(repo_task(remote, verify=["echo pytest"]))

    assert result.code == 0, result.stdout
    assert result.report["testsPassed"] is None


def test_a_failing_pytest_run_sets_tests_passed_false(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        WRITE_TEST,
        ok(tool_use("bash", {"command": CHECK})),
        report_call("Added a test; all green.", tests_passed=True),
    )

    result = run(repo_task(remote))

    assert result.code == 0  # no completion checks: the agent's test run is only evidence
    assert result.report["testsPassed"] is False


def test_no_change_where_changes_are_expected_is_no_work(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        ok(tool_use("read_file", {"path": "calc.py"})), report_call("Looks fine to me.")
    )

    result = run(repo_task(remote))

    assert result.code == EXIT_CODES["NoWork"] == 10
    assert result.report["reason"] == "NoWork"
    assert "changed no file" in result.report["summary"]
    assert "expectChanges" in result.report["summary"]
    assert result.report["commit"] is None and remote.branches() == ["main"]


def test_no_change_is_a_success_where_none_is_expected(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(report_call("Reviewed: calc.add subtracts."))

    result = run(repo_task(remote, context={"profile": {"expectChanges": False}}))

    assert result.code == 0 and result.report["status"] == "succeeded"
    assert result.report["filesChanged"] == []


def test_an_attempt_that_used_no_tokens_is_no_work(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    body = message(tool_use("report", {"summary": "done", "status": "completed"}))
    body["usage"] = {"input_tokens": 0, "output_tokens": 0}
    fake_api.reply(Reply(body))

    result = run(repo_task(remote, context={"profile": {"expectChanges": False}}))

    assert result.code == 10 and result.report["reason"] == "NoWork"
    assert "no tokens" in result.report["summary"]


def test_without_a_turn_left_for_the_wrap_up_the_checks_fail(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(WRITE_TEST, report_call("Added a test."))

    result = run(repo_task(remote, verify=[CHECK]), "--max-turns", "2")

    assert result.code == 9 and result.report["reason"] == "VerifyFailed"
    assert "wrap-up round ended without a new report (MaxTurns)" in result.report["summary"]
    assert result.report["summary"].endswith("Added a test.")  # the agent's report is kept
    assert len(fake_api.requests) == 2


def test_the_tasks_own_checks_run_without_an_operator_context(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(FIX_ADD, report_call("Fixed."), report_call("Still fixed."))
    task = agent_task(repository={"url": remote.url}, verify=["echo broken >&2; exit 3"])

    result = run(task)

    assert result.report["reason"] == "VerifyFailed"
    assert "(exit 3)" in result.report["summary"] and "broken" in result.report["summary"]


def test_a_long_failing_output_keeps_its_end_within_the_report_limit(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    noisy = 'for i in $(seq 3000); do echo "line $i of noise"; done; echo "END-$((6*7))"; exit 1'
    many_files = "for i in $(seq 100 399); do echo $i > module_$i.py; done"
    fake_api.reply(
        ok(tool_use("bash", {"command": many_files})),
        report_call("x" * 3000),
        report_call("y" * 3000),
    )

    result = run(repo_task(remote, verify=[noisy]))

    assert len(result.raw) <= 4096 and result.report["reason"] == "VerifyFailed"
    summary = result.report["summary"]
    assert "line 3000 of noise\nEND-42" in summary
    assert "line 1 of noise" not in summary
    assert len(result.report["filesChanged"]) < 300  # the file list gave way, not the output
