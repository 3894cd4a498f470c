"""A person's mistakes with `agent-runner`: one line on stderr naming what to change, exit
code 2 (ConfigError, as in every program), a valid report, and never a traceback.

The runner talks to no Kubernetes API, so there is no kubeconfig to get wrong: its input is
the task file (or variable) and its flags.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agent_runner import cli, executor

from .fakes import API_KEY, FakeMessagesAPI, agent_task


def invoke(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report"
    code = cli.main(["--workspace", str(tmp_path / "ws"), "--report", str(report), *args])
    return code, json.loads(report.read_text())


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "agent-runner: cannot read the task file {path}: No such file or directory"),
        (b"{not json", "agent-runner: the task input file {path} is not valid JSON"),
        (b"[1, 2]", "agent-runner: the task input file {path} must be a JSON object"),
        (json.dumps({**agent_task(), "spec": {"taskId": "T1"}}).encode(),
         "agent-runner: the task input file {path} is not a valid AgentTask: spec.title"),
        (b"\xff\xfe{}", "agent-runner: the task file {path} is not UTF-8 text (byte 0)"),
    ],
    ids=["missing", "not-json", "not-an-object", "no-title", "not-utf8"],
)
def test_a_bad_task_file_is_one_line_and_exit_2(
    tmp_path: Path, runner_env: None, fake_api: FakeMessagesAPI,
    capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str,
) -> None:
    path = tmp_path / "task.json"
    if content is not None:
        path.write_bytes(content)

    code, report = invoke(tmp_path, "--task", str(path))

    assert code == 2
    assert one_line(capsys.readouterr().err).startswith(expected.format(path=path))
    assert report["reason"] == "ConfigError"
    assert fake_api.requests == []


def test_a_task_directory_is_one_line(
    tmp_path: Path, runner_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = invoke(tmp_path, "--task", str(tmp_path))
    assert code == 2
    assert one_line(capsys.readouterr().err) == (
        f"agent-runner: cannot read the task file {tmp_path}: Is a directory"
    )


def test_no_task_at_all_says_how_to_give_one(
    tmp_path: Path, runner_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = invoke(tmp_path)
    assert code == 2 and report["reason"] == "ConfigError"
    assert one_line(capsys.readouterr().err) == (
        "agent-runner: no task given: pass --task FILE, set AGENT_TASK_FILE to a file or "
        "AGENT_TASK_JSON to the AgentTask JSON"
    )


def test_a_bad_task_variable_names_the_variable(
    tmp_path: Path, runner_env: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENT_TASK_JSON", "{oops")
    code, _ = invoke(tmp_path)
    assert code == 2
    assert one_line(capsys.readouterr().err).startswith(
        "agent-runner: the task input in $AGENT_TASK_JSON is not valid JSON"
    )


def test_a_missing_api_key_is_one_line(
    tmp_path: Path, runner_env: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    task = tmp_path / "task.json"
    task.write_text(json.dumps(agent_task()))
    code, _ = invoke(tmp_path, "--task", str(task))
    assert code == 2
    assert one_line(capsys.readouterr().err).startswith(
        "agent-runner: ANTHROPIC_API_KEY is not set: the Job needs the plan's API key Secret"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tsak", "t.json"], "agent-runner: error: unrecognized arguments: --tsak t.json"),
        (["--max-turns", "ten"], "agent-runner: error: argument --max-turns: invalid int "
                                 "value: 'ten'"),
        (["--backend", "cli"], "agent-runner: error: argument --backend: invalid choice: "
                               "'cli'"),
        ([], "agent-runner: error: the following arguments are required: --workspace"),
    ],
    ids=["unknown-flag", "not-a-number", "bad-choice", "no-workspace"],
)
def test_a_bad_flag_is_the_runners_usage_and_exit_2_before_any_fork(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    args: list[str], expected: str,
) -> None:
    forked: list[object] = []
    monkeypatch.setattr(executor, "become_init", lambda main: forked.append(main) or 70)
    workspace = [] if not args else ["--workspace", "ws"]

    with pytest.raises(SystemExit) as exit_:
        cli.main([*workspace, *args])

    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: agent-runner ") and "Traceback" not in err
    assert err.splitlines()[-1].startswith(expected)
    assert forked == []  # as PID 1 too, the usage error is the process's own exit code


def test_the_console_script_says_it_in_one_line(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "ANTHROPIC_"))},
        "ANTHROPIC_API_KEY": API_KEY,
    }
    missing = tmp_path / "nope.json"
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "agent-runner"), "--task", str(missing),
         "--workspace", str(tmp_path / "ws"), "--report", str(tmp_path / "report")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert one_line(completed.stderr) == (
        f"agent-runner: cannot read the task file {missing}: No such file or directory"
    )
    assert "Traceback" not in completed.stdout
    assert json.loads((tmp_path / "report").read_text())["reason"] == "ConfigError"
