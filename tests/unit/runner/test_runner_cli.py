"""The runner end to end: the real SDK against the fake Messages API, real git, real shell.

Each test scripts the model's turns and checks what a person would check afterwards:
the branch and commit on the remote, the files, the report (valid JSON, under 4 KB,
the right fields) and the exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agent_api.failures import EXIT_CODES
from agent_runner import cli, pricing

from .fakes import (
    API_KEY,
    GIT_TOKEN,
    FakeMessagesAPI,
    Remote,
    Reply,
    agent_task,
    api_error,
    git,
    message,
    ok,
    report_call,
    text,
    tool_use,
)

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"
# For tests about something else than the work itself: an agent that changes nothing
# may succeed.
NO_CHANGES_EXPECTED: dict[str, Any] = {"profile": {"expectChanges": False}}
UNITTEST_FAILING = (
    "import unittest\n\n\nclass T(unittest.TestCase):\n"
    "    def test_no(self):\n        self.assertTrue(False)\n"
)


def repo_task(remote: Remote, **kwargs: Any) -> dict[str, Any]:
    return agent_task(
        repository={"url": remote.url, "branch": "main",
                    "credentialsSecret": {"name": "git-token"}},
        **kwargs,
    )


FIX_AND_TEST = [
    ok(text("Let me look."), tool_use("read_file", {"path": "calc.py"}, "t1")),
    ok(
        tool_use("edit_file", {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"}, "t2"),
        tool_use(
            "write_file",
            {"path": "tests/test_calc.py",
             "content": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"},
            "t3",
        ),
    ),
    ok(tool_use("bash", {"command": f"PYTHONPATH=. {PYTEST} tests"}, "t4")),
]


def test_agent_fixes_code_commits_and_pushes_its_branch(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote, tmp_path: Path
) -> None:
    fake_api.reply(*FIX_AND_TEST, report_call("Fixed add and added a test.", tests_passed=True))

    result = run(repo_task(remote))

    assert result.code == 0, result.stdout
    report = result.report
    assert set(report) == {
        "status", "summary", "filesChanged", "testsPassed", "branch", "commit",
        "inputTokens", "outputTokens", "costUSD", "reason",
    }
    assert report["status"] == "succeeded" and report["reason"] is None
    assert report["summary"] == "Fixed add and added a test."
    assert report["filesChanged"] == ["calc.py", "tests/test_calc.py"]
    assert report["testsPassed"] is True
    assert report["branch"] == "agent/T001.001"
    assert report["commit"] == remote.rev("agent/T001.001")
    assert report["inputTokens"] == 4 * 100 and report["outputTokens"] == 4 * 50
    assert report["costUSD"] == pricing.cost_usd(
        "claude-sonnet-4-6", input_tokens=400, output_tokens=200
    )
    # The work is on the remote branch; the start branch is untouched.
    assert "return a + b" in remote.show("agent/T001.001", "calc.py")
    assert "return a - b" in remote.show("main", "calc.py")
    subject = git(remote.path, "log", "-1", "--format=%s%n%b", "agent/T001.001")
    assert subject.startswith("T001.001: Fix the add function")
    assert "Fixed add and added a test." in subject
    # The model saw the tool results.
    second = fake_api.requests[1]["messages"]
    assert "return a - b" in json.dumps(second[-1])
    # One prompt-cache breakpoint, at the end of the conversation.
    marked = [
        index
        for index, msg in enumerate(fake_api.requests[3]["messages"])
        for block in msg["content"]
        if "cache_control" in block
    ]
    assert marked == [len(fake_api.requests[3]["messages"]) - 1]
    fourth = fake_api.requests[3]["messages"][-1]["content"][0]
    assert fourth["type"] == "tool_result" and "1 passed" in fourth["content"]
    # The token never lands in the clone's configuration.
    assert GIT_TOKEN not in (tmp_path / "ws" / ".git" / "config").read_text()


def test_the_prompt_follows_the_plan_and_carries_context(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(report_call("nothing to do"))
    task = repo_task(
        remote,
        context={
            "profile": {"name": "backend-development", "systemPrompt": "You write APIs.",
                        "maxTokens": 1234, "model": "claude-haiku-4-5",
                        "expectChanges": False},
            "attempt": 2,
            "previousFailure": {"reason": "MaxTurns", "summary": "ran out of turns"},
            "dependencies": [{"taskId": "T001.000", "title": "Schema",
                              "summary": "Added users table"}],
        },
    )

    result = run(task)

    assert result.code == 0
    request = fake_api.requests[0]
    sent = fake_api.headers[0]
    assert API_KEY in (sent.get("x-api-key"), sent.get("authorization", "").removeprefix("Bearer "))
    assert request["model"] == "claude-haiku-4-5" and request["max_tokens"] == 1234
    assert request["system"][0]["text"].startswith("You write APIs.")
    assert {tool["name"] for tool in request["tools"]} == {
        "bash", "read_file", "write_file", "edit_file", "list_files", "report"
    }
    prompt_text = request["messages"][0]["content"][0]["text"]
    for expected in (
        "You are backend-development agent.",
        "Task: T001.001: Fix the add function",
        "Priority: P1",
        "T001.000 (Schema): Added users table",
        "attempt 2",
        "(MaxTurns): ran out of turns",
        "Completion status",
    ):
        assert expected in prompt_text
    assert result.report["costUSD"] == pricing.cost_usd(
        "claude-haiku-4-5", input_tokens=100, output_tokens=50
    )


def test_a_retry_continues_the_branch_of_the_previous_attempt(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        ok(tool_use("write_file", {"path": "one.txt", "content": "1\n"})),
        report_call("part one"),
    )
    first = run(repo_task(remote))
    fake_api.reply(
        ok(tool_use("bash", {"command": "cat one.txt && echo 2 > two.txt"})),
        report_call("part two"),
    )

    second = run(repo_task(remote, context={"attempt": 2}))

    assert second.code == 0, second.stdout
    assert second.report["filesChanged"] == ["one.txt", "two.txt"]
    parents = git(remote.path, "log", "--format=%H", "agent/T001.001").splitlines()
    assert parents[1] == first.report["commit"] and parents[0] == second.report["commit"]
    assert fake_api.requests[-1]["messages"][-1]["content"][0]["content"] == "[exit code 0]\n1\n"


def test_tests_passed_comes_from_the_test_run_not_the_claim(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        ok(tool_use("write_file", {"path": "test_fail.py", "content": UNITTEST_FAILING})),
        ok(tool_use("bash", {"command": f"{sys.executable} -m unittest test_fail"})),
        report_call("all good", tests_passed=True),
    )

    result = run(repo_task(remote))

    assert result.code == 0
    assert result.report["testsPassed"] is False


def test_without_a_repository_files_changed_come_from_the_workspace(
    run: Any, fake_api: FakeMessagesAPI, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "keep.txt").write_text("same\n")
    (workspace / "old.txt").write_text("remove me\n")
    fake_api.reply(
        ok(tool_use("bash", {"command": "rm old.txt && mkdir -p docs"})),
        ok(tool_use("write_file", {"path": "docs/guide.md", "content": "# Guide\n"})),
        ok(tool_use("list_files", {})),
        report_call("wrote the guide"),
    )

    result = run(agent_task(), "--agent-name", "codi-documentation-writer")

    assert result.code == 0
    assert result.report["filesChanged"] == ["docs/guide.md", "old.txt"]
    assert result.report["branch"] is None and result.report["commit"] is None
    assert result.report["testsPassed"] is None
    listing = fake_api.requests[-1]["messages"][-1]["content"][0]["content"]
    assert listing == "docs/guide.md\nkeep.txt"


def test_task_from_the_environment(
    run: Any, fake_api: FakeMessagesAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(
        "AGENT_TASK_JSON", json.dumps(agent_task("T009.009", context=NO_CHANGES_EXPECTED))
    )
    fake_api.reply(report_call("ok"))
    report_path = tmp_path / "report.json"

    code = cli.main(["--workspace", str(tmp_path / "ws"), "--report", str(report_path)])

    assert code == 0
    assert "Task: T009.009" in fake_api.requests[0]["messages"][0]["content"][0]["text"]
    assert json.loads(report_path.read_text())["status"] == "succeeded"


# --------------------------------------------------------------------------- redaction


def test_secrets_are_redacted_from_transcript_report_and_commands(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote, tmp_path: Path
) -> None:
    fake_api.reply(
        ok(text(f"My key is {API_KEY}"),
           tool_use("bash", {"command": f"echo {GIT_TOKEN} > notes.txt; env"})),
        report_call(f"leaked {API_KEY} and {GIT_TOKEN}"),
    )

    result = run(repo_task(remote))

    assert result.code == 0
    for secret in (API_KEY, GIT_TOKEN):
        assert secret not in result.stdout
        assert secret not in result.raw.decode()
    assert "[REDACTED]" in result.report["summary"]
    assert "[REDACTED]" in result.stdout
    # The agent's shell never had the credentials in its environment.
    env_output = fake_api.requests[1]["messages"][-1]["content"][0]["content"]
    assert "ANTHROPIC_API_KEY" not in env_output and "GIT_TOKEN" not in env_output
    # The commit message was redacted too.
    body = git(remote.path, "log", "-1", "--format=%B", "agent/T001.001")
    assert API_KEY not in body and "[REDACTED]" in body


# --------------------------------------------------------------------------- failures


def test_rate_limit_is_retried_after_the_servers_delay(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    fake_api.reply(
        Reply(api_error("rate_limit_error", "slow down"), 429, {"retry-after": "0.3"}),
        report_call("done"),
    )
    started = time.monotonic()

    result = run(agent_task(context=NO_CHANGES_EXPECTED))

    assert result.code == 0
    assert time.monotonic() - started >= 0.3
    assert len(fake_api.requests) == 2
    assert "rate limited" in result.stdout and "retrying in 0.3 s" in result.stdout


def test_persistent_rate_limit_fails_within_the_wait_budget(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    fake_api.then = Reply(api_error("rate_limit_error", "slow down"), 429, {"retry-after": "0.2"})

    result = run(agent_task(), "--max-retry-wait-seconds", "0.5")

    assert result.code == EXIT_CODES["RateLimited"] == 3
    assert result.report["status"] == "failed" and result.report["reason"] == "RateLimited"
    assert len(fake_api.requests) == 3  # waited 0.2 + 0.2; a third wait breaks the budget
    assert "AGENT_MAX_RETRY_WAIT_SECONDS" in result.report["summary"]


def test_a_retry_after_beyond_the_budget_fails_at_once(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    fake_api.then = Reply(api_error("rate_limit_error", "later"), 429, {"retry-after": "600"})

    result = run(agent_task())

    assert result.report["reason"] == "RateLimited"
    assert len(fake_api.requests) == 1
    assert "asked for 600.0 s" in result.report["summary"]


def test_persistent_overload_fails_as_overloaded(run: Any, fake_api: FakeMessagesAPI) -> None:
    fake_api.then = Reply(api_error("overloaded_error", "Overloaded"), 529)

    result = run(agent_task(), "--max-retry-wait-seconds", "1")

    assert result.code == EXIT_CODES["Overloaded"] == 4
    assert result.report["reason"] == "Overloaded"
    assert len(fake_api.requests) >= 2
    assert "529" in result.report["summary"]


def test_a_refused_api_key_is_a_config_error_without_retries(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    fake_api.then = Reply(api_error("authentication_error", "invalid x-api-key"), 401)

    result = run(agent_task())

    assert result.code == EXIT_CODES["ConfigError"] == 2
    assert result.report["reason"] == "ConfigError"
    assert "API key was refused" in result.report["summary"]
    assert len(fake_api.requests) == 1


def test_an_unknown_model_is_a_config_error(run: Any, fake_api: FakeMessagesAPI) -> None:
    fake_api.then = Reply(api_error("not_found_error", "model: claude-nope"), 404)

    result = run(agent_task(), "--model", "claude-nope")

    assert result.code == 2 and result.report["reason"] == "ConfigError"
    assert "claude-nope" in result.report["summary"] and "spec.model" in result.report["summary"]


def test_a_missing_api_key_is_a_config_error(
    run: Any, fake_api: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")

    result = run(agent_task())

    assert result.code == 2 and result.report["reason"] == "ConfigError"
    assert "ANTHROPIC_API_KEY is not set" in result.report["summary"]
    assert fake_api.requests == []


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"kind": "AgentTask"}), "has no 'spec'"),
        (json.dumps({**agent_task(), "spec": {"taskId": "T1"}}), "title"),
        (json.dumps({**agent_task(), "context": {"attempt": 0}}), "context.attempt"),
    ],
)
def test_a_bad_task_file_is_a_config_error(
    run: Any, fake_api: FakeMessagesAPI, task: str, expected: str
) -> None:
    result = run(task)

    assert result.code == 2 and result.report["reason"] == "ConfigError"
    assert expected in result.report["summary"]
    assert fake_api.requests == []


def test_a_malformed_reply_is_retried(run: Any, fake_api: FakeMessagesAPI) -> None:
    fake_api.reply(Reply(b"{not json at all"), report_call("done"))

    result = run(agent_task(context=NO_CHANGES_EXPECTED), "--max-retry-wait-seconds", "5")

    assert result.code == 0
    assert "malformed" in result.stdout


def test_persistent_malformed_replies_are_an_internal_error(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    fake_api.then = Reply(b'{"type": "message", "content": "not a list"}')

    result = run(agent_task(), "--max-retry-wait-seconds", "0")

    assert result.code == EXIT_CODES["InternalError"] == 1
    assert result.report["reason"] == "InternalError"
    assert "malformed" in result.report["summary"]


def test_an_unexpected_api_status_is_an_internal_error(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    fake_api.then = Reply(api_error("request_too_large", "too big"), 413)

    result = run(agent_task())

    assert result.code == 1 and result.report["reason"] == "InternalError"
    assert "413" in result.report["summary"]


def test_a_slow_reply_hits_the_idle_timeout(run: Any, fake_api: FakeMessagesAPI) -> None:
    fake_api.reply(Reply(message(text("late")), delay=5))

    result = run(agent_task(), "--idle-timeout-seconds", "0.5")

    assert result.code == EXIT_CODES["Timeout"] == 5
    assert result.report["reason"] == "Timeout"
    assert "idle timeout" in result.report["summary"]


def test_the_wall_clock_limit_stops_the_agent_and_keeps_its_work(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        ok(tool_use("write_file", {"path": "partial.txt", "content": "half\n"})),
        ok(tool_use("bash", {"command": "sleep 30"})),
    )
    fake_api.then = ok(tool_use("bash", {"command": "true"}))
    started = time.monotonic()

    result = run(repo_task(remote), "--timeout-seconds", "3")

    assert time.monotonic() - started < 10  # the sleep was killed
    assert result.code == 5 and result.report["reason"] == "Timeout"
    assert "killed after" in result.stdout
    assert "seconds left" in json.dumps(fake_api.requests[-1]["messages"][-1])
    assert result.report["filesChanged"] == ["partial.txt"]
    assert remote.show("agent/T001.001", "partial.txt") == "half"
    assert "Outcome: failed (Timeout)" in git(remote.path, "log", "-1", "--format=%B",
                                               "agent/T001.001")


def test_max_turns_warns_before_the_end_and_commits_partial_work(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(ok(tool_use("write_file", {"path": "step1.txt", "content": "1\n"})))
    fake_api.then = ok(tool_use("bash", {"command": "echo still working"}))

    result = run(repo_task(remote), "--max-turns", "3")

    assert result.code == EXIT_CODES["MaxTurns"] == 6
    assert result.report["reason"] == "MaxTurns"
    assert len(fake_api.requests) == 3
    notices = [
        block["text"]
        for request in fake_api.requests
        for block in request["messages"][-1]["content"]
        if block.get("type") == "text" and "Limit approaching" in block["text"]
    ]
    assert notices == [notices[0]] and "2 model turns left" in notices[0]
    assert "Limit approaching" not in json.dumps(fake_api.requests[0])
    assert result.report["commit"] == remote.rev("agent/T001.001")
    assert result.report["filesChanged"] == ["step1.txt"]


def test_the_agent_reporting_gave_up(run: Any, fake_api: FakeMessagesAPI) -> None:
    fake_api.reply(report_call("The module named in the task does not exist.", status="gave_up"))

    result = run(agent_task())

    assert result.code == EXIT_CODES["AgentGaveUp"] == 7
    assert result.report["reason"] == "AgentGaveUp"
    assert "does not exist" in result.report["summary"]


def test_an_agent_that_stops_without_reporting_is_nudged_then_gave_up(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    fake_api.then = ok(text("I think I am finished."))

    result = run(agent_task())

    assert result.code == 7 and result.report["reason"] == "AgentGaveUp"
    assert len(fake_api.requests) == 2
    assert "without calling the report tool" in json.dumps(fake_api.requests[1]["messages"][-1])
    assert "I think I am finished." in result.report["summary"]


def test_a_rejected_push_is_a_tool_error(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    hook = remote.path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    fake_api.reply(
        ok(tool_use("write_file", {"path": "x.txt", "content": "x\n"})), report_call("done")
    )

    result = run(repo_task(remote))

    assert result.code == EXIT_CODES["ToolError"] == 8
    assert result.report["reason"] == "ToolError"
    assert "git push" in result.report["summary"] and "branch protected" in result.report[
        "summary"
    ]
    assert result.report["filesChanged"] == ["x.txt"]


def test_an_unusable_workspace_is_a_tool_error(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote, tmp_path: Path
) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "stray.txt").write_text("?")

    result = run(repo_task(remote))

    assert result.code == 8 and result.report["reason"] == "ToolError"
    assert "not empty" in result.report["summary"]
    assert fake_api.requests == []


def test_an_unreachable_repository_is_a_tool_error(
    run: Any, fake_api: FakeMessagesAPI, tmp_path: Path
) -> None:
    task = agent_task(repository={"url": (tmp_path / "missing.git").as_uri()})

    result = run(task)

    assert result.code == 8 and "git clone" in result.report["summary"]


def test_a_huge_summary_still_gives_a_valid_small_report(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    make_300_files = (
        "mkdir -p src/a/deeply/nested/package && for i in $(seq 100 399); do "
        "echo $i > src/a/deeply/nested/package/module_$i.py; done"
    )
    fake_api.reply(
        ok(tool_use("bash", {"command": make_300_files})),
        report_call('é"\\\n' * 5000),
    )

    result = run(agent_task())

    assert result.code == 0
    assert len(result.raw) <= 4096
    kept = result.report["filesChanged"][:-1]
    assert kept[0] == "src/a/deeply/nested/package/module_100.py"
    assert result.report["filesChanged"][-1] == f"… and {300 - len(kept)} more"
    assert result.report["summary"].startswith('é"\\\n') and result.report["summary"].endswith("…")


# --------------------------------------------------------------------------- process


def test_the_console_script_runs_as_a_process(
    fake_api: FakeMessagesAPI, tmp_path: Path, git_identity: None
) -> None:
    fake_api.reply(
        ok(tool_use("bash", {"command": f"echo {API_KEY}"})),
        report_call("done"),
    )
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(agent_task(context=NO_CHANGES_EXPECTED)))
    report_path = tmp_path / "termination-log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "ANTHROPIC_"))},
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": fake_api.url,
    }
    script = Path(sys.executable).parent / "agent-runner"

    completed = subprocess.run(
        [str(script), "--task", str(task_file), "--workspace", str(tmp_path / "ws"),
         "--report", str(report_path)],
        env=env, capture_output=True, text=True, timeout=60,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads(report_path.read_text())["status"] == "succeeded"
    assert API_KEY not in completed.stdout + completed.stderr
    assert "[report] {" in completed.stdout


def test_sigterm_ends_the_attempt_as_a_timeout_with_a_report(
    fake_api: FakeMessagesAPI, tmp_path: Path, git_identity: None
) -> None:
    fake_api.reply(ok(tool_use("write_file", {"path": "early.txt", "content": "x"})))
    fake_api.then = Reply(message(text("late")), delay=30)
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(agent_task()))
    report_path = tmp_path / "termination-log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "ANTHROPIC_"))},
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": fake_api.url,
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "agent-runner"), "--task", str(task_file),
         "--workspace", str(tmp_path / "ws"), "--report", str(report_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # SIGTERM only once the runner is in its second model call, so that its handler is
        # installed however slowly a loaded machine starts it.
        deadline = time.monotonic() + 180
        while len(fake_api.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake_api.requests) == 2, "the runner never made its second model call"
        process.terminate()
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 5, output
    report = json.loads(report_path.read_text())
    assert report["reason"] == "Timeout" and "SIGTERM" in report["summary"]
    assert report["filesChanged"] == ["early.txt"]
    # A cancel costs at most the model call in flight: no turn is started after it.
    assert len(fake_api.requests) == 2


def test_prompt_cache_tokens_count_as_input_at_their_price(
    run: Any, fake_api: FakeMessagesAPI
) -> None:
    body = message(tool_use("report", {"summary": "ok", "status": "completed"}))
    body["usage"] = {"input_tokens": 10, "output_tokens": 20,
                     "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 5000}
    fake_api.reply(Reply(body))

    result = run(agent_task())

    assert result.report["inputTokens"] == 6010 and result.report["outputTokens"] == 20
    assert result.report["costUSD"] == pricing.cost_usd(
        "claude-sonnet-4-6", input_tokens=10, output_tokens=20,
        cache_write_tokens=1000, cache_read_tokens=5000,
    )
    assert result.report["costUSD"] < pricing.cost_usd(
        "claude-sonnet-4-6", input_tokens=6010, output_tokens=20
    )


def test_a_bad_setting_is_a_config_error_named_on_stderr(
    tmp_path: Path, runner_env: None, fake_api: FakeMessagesAPI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(agent_task()))
    code = cli.main(["--task", str(task_file), "--workspace", str(tmp_path / "ws"),
                     "--report", str(tmp_path / "report"), "--max-turns", "0"])
    assert code == 2
    assert ("agent-runner: invalid settings: --max-turns / AGENT_MAX_TURNS: must be at least 1"
            in capsys.readouterr().err)
    report = json.loads((tmp_path / "report").read_text())
    assert report["reason"] == "ConfigError"
    assert fake_api.requests == []
