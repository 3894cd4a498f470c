"""The optional Claude Code CLI backend, with a stand-in ``claude`` program on PATH.

The stand-in does what the real CLI does at our boundary: works in its current
directory and prints one JSON result object. Everything else (workspace, git, report)
is the runner's real code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from agent_api.failures import EXIT_CODES
from agent_runner import cli

from .fakes import API_KEY, Remote, agent_task

STAND_IN = """#!{python}
import json, os, sys
from pathlib import Path
Path(os.environ["CLAUDE_ARGS_FILE"]).write_text(json.dumps(sys.argv[1:]))
Path("from_cli.txt").write_text("made by claude\\n")
print("some progress output")
print(json.dumps({result}))
sys.exit({code})
"""


def install_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, result: dict[str, Any],
                   code: int = 0) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "claude"
    program.write_text(
        STAND_IN.format(python=sys.executable, result=repr(result), code=code)
    )
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    args_file = tmp_path / "args.json"
    monkeypatch.setenv("CLAUDE_ARGS_FILE", str(args_file))
    return args_file


def run_cli_backend(tmp_path: Path, task: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    monkeypatch.setenv("AGENT_BACKEND", "claude-cli")
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(task))
    report = tmp_path / "report.json"
    code = cli.main(["--task", str(task_file), "--workspace", str(tmp_path / "ws"),
                     "--report", str(report), "--max-turns", "12"])
    out = capsys.readouterr().out
    assert API_KEY not in out
    return code, json.loads(report.read_text())


def test_a_successful_cli_run_is_committed_and_reported(
    tmp_path: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args_file = install_claude(tmp_path, monkeypatch, {
        "type": "result", "subtype": "success", "is_error": False,
        "result": "Created from_cli.txt.", "num_turns": 3, "total_cost_usd": 0.0123,
        "usage": {"input_tokens": 1000, "output_tokens": 200},
    })

    code, report = run_cli_backend(
        tmp_path, agent_task(repository={"url": remote.url}), monkeypatch, capsys
    )

    assert code == 0
    assert report["summary"] == "Created from_cli.txt."
    assert report["filesChanged"] == ["from_cli.txt"]
    assert report["costUSD"] == 0.0123
    assert (report["inputTokens"], report["outputTokens"]) == (1000, 200)
    assert remote.show("agent/T001.001", "from_cli.txt") == "made by claude"
    argv = json.loads(args_file.read_text())
    assert argv[:1] == ["-p"] and "You are general-purpose agent." in argv[1]
    assert argv[argv.index("--output-format") + 1] == "json"
    assert argv[argv.index("--max-turns") + 1] == "12"


@pytest.mark.parametrize(
    ("result", "code", "reason"),
    [
        ({"type": "result", "subtype": "error_max_turns", "is_error": True}, 1, "MaxTurns"),
        ({"type": "result", "subtype": "success", "is_error": True,
          "result": "Invalid API key · Please run /login"}, 1, "ConfigError"),
        ({"type": "result", "subtype": "success", "is_error": True,
          "result": "API Error: 529 overloaded_error"}, 1, "Overloaded"),
        ({"type": "result", "subtype": "error_during_execution", "is_error": True,
          "result": "could not finish"}, 1, "AgentGaveUp"),
    ],
)
def test_cli_failures_are_classified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    git_identity: None, result: dict[str, Any], code: int, reason: str,
) -> None:
    install_claude(tmp_path, monkeypatch, result, code)

    exit_code, report = run_cli_backend(tmp_path, agent_task(), monkeypatch, capsys)

    assert report["reason"] == reason and report["status"] == "failed"
    assert exit_code == EXIT_CODES[reason]
    assert report["filesChanged"] == ["from_cli.txt"]


def test_without_the_cli_installed_it_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    git_identity: None,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))

    exit_code, report = run_cli_backend(tmp_path, agent_task(), monkeypatch, capsys)

    assert exit_code == 2 and "not installed" in report["summary"]


RESUMING_STAND_IN = """#!{python}
import json, os, sys
from pathlib import Path
with open(os.environ["CLAUDE_ARGS_FILE"], "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
Path("from_cli.txt").write_text("made by claude\\n")
if "--resume" in sys.argv:
    Path("fixed.txt").write_text("fixed\\n")
print(json.dumps({{"type": "result", "subtype": "success", "is_error": False,
                  "result": "done", "num_turns": 2, "session_id": "sess-1",
                  "usage": {{"input_tokens": 10, "output_tokens": 5}}}}))
"""


def test_failing_checks_resume_the_cli_session_for_the_wrap_up_round(
    tmp_path: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args_file = install_claude(tmp_path, monkeypatch, {})
    (tmp_path / "bin" / "claude").write_text(RESUMING_STAND_IN.format(python=sys.executable))
    task = agent_task(repository={"url": remote.url}, context={"verify": ["test -f fixed.txt"]})

    code, report = run_cli_backend(tmp_path, task, monkeypatch, capsys)

    assert code == 0, report
    calls = [json.loads(line) for line in args_file.read_text().splitlines()]
    assert len(calls) == 2
    assert "test -f fixed.txt" in calls[0][1]  # the first prompt names the check
    resumed = calls[1]
    assert resumed[resumed.index("--resume") + 1] == "sess-1"
    assert "Verification failed" in resumed[1]
    assert resumed[resumed.index("--max-turns") + 1] == "10"  # 12 less the 2 used
    assert report["filesChanged"] == ["fixed.txt", "from_cli.txt"]
    assert (report["inputTokens"], report["outputTokens"]) == (20, 10)


def test_a_cli_run_that_counted_no_tokens_is_no_work(
    tmp_path: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    install_claude(tmp_path, monkeypatch, {
        "type": "result", "subtype": "success", "is_error": False, "result": "done",
        "num_turns": 0,
    })

    code, report = run_cli_backend(
        tmp_path, agent_task(repository={"url": remote.url}), monkeypatch, capsys
    )

    assert code == EXIT_CODES["NoWork"] and report["reason"] == "NoWork"
    assert "no model turn" in report["summary"]
