"""The agent's tools: confined to the workspace, bounded in time and output."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from agent_runner import failures, sandbox, tools


@pytest.fixture
def toolbox(tmp_path: Path) -> Iterator[tools.ToolBox]:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.txt").write_text("one\ntwo\nthree\n")
    box = tools.ToolBox(root=root, command_timeout=lambda: 5.0, env={"PATH": "/usr/bin:/bin"})
    yield box
    box.close()


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "sub/../../x", "link/x"])
def test_paths_outside_the_workspace_are_refused(
    toolbox: tools.ToolBox, tmp_path: Path, path: str
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (toolbox.root / "link").symlink_to(tmp_path / "elsewhere")

    for name, tool_input in (
        ("read_file", {"path": path}),
        ("write_file", {"path": path, "content": "x"}),
        ("edit_file", {"path": path, "old_text": "a", "new_text": "b"}),
        ("list_files", {"path": path}),
    ):
        outcome = toolbox.run(name, tool_input)
        assert outcome.is_error and "outside the workspace" in outcome.content
    assert not (tmp_path / "outside.txt").exists()
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_absolute_paths_inside_the_workspace_are_fine(toolbox: tools.ToolBox) -> None:
    outcome = toolbox.run("read_file", {"path": str(toolbox.root / "a.txt"), "offset": 2,
                                        "limit": 1})
    assert outcome == tools.ToolOutcome("     2\ttwo")


def test_write_edit_and_list(toolbox: tools.ToolBox) -> None:
    assert not toolbox.run("write_file", {"path": "src/m.py", "content": "x = 1\nx = 1\n"}).is_error
    ambiguous = toolbox.run("edit_file", {"path": "src/m.py", "old_text": "x = 1",
                                          "new_text": "y = 2"})
    assert ambiguous.is_error and "occurs 2 times" in ambiguous.content
    replaced = toolbox.run("edit_file", {"path": "src/m.py", "old_text": "x = 1",
                                         "new_text": "y = 2", "replace_all": True})
    assert replaced.content == "edited src/m.py (2 replacements)"
    assert (toolbox.root / "src/m.py").read_text() == "y = 2\ny = 2\n"
    missing = toolbox.run("edit_file", {"path": "src/m.py", "old_text": "zzz", "new_text": ""})
    assert missing.is_error and "does not occur" in missing.content
    assert toolbox.run("list_files", {}).content == "a.txt\nsrc/m.py"
    assert toolbox.run("list_files", {"recursive": False}).content == "a.txt\nsrc/"


def test_git_internals_are_off_limits(toolbox: tools.ToolBox) -> None:
    outcome = toolbox.run("write_file", {"path": ".git/config", "content": "x"})
    assert outcome.is_error and "managed by the runner" in outcome.content


def test_model_mistakes_come_back_as_error_results(toolbox: tools.ToolBox) -> None:
    assert toolbox.run("delete_everything", {}).is_error
    assert toolbox.run("read_file", {"path": "nope.txt"}).is_error
    assert toolbox.run("read_file", {}).is_error
    assert toolbox.run("bash", {"command": ""}).is_error


def test_a_shell_command_reports_its_exit_code_and_output(toolbox: tools.ToolBox) -> None:
    outcome = toolbox.run("bash", {"command": "cat a.txt | wc -l; echo err >&2; exit 3"})

    assert not outcome.is_error
    assert outcome.content == "[exit code 3]\n3\nerr\n"
    assert toolbox.commands[-1].exit_code == 3


def test_a_hanging_command_and_its_children_are_killed(toolbox: tools.ToolBox) -> None:
    started = time.monotonic()

    outcome = toolbox.run("bash", {"command": "sleep 30 & sleep 30; echo never",
                                   "timeout_seconds": 0.5})

    assert time.monotonic() - started < 5
    assert outcome.content.startswith("[killed after 0 s timeout]")
    assert toolbox.commands[-1].exit_code is None


def test_long_output_keeps_its_start_and_end(toolbox: tools.ToolBox) -> None:
    outcome = toolbox.run("bash", {"command": "echo START; seq 1 100000; echo END"})

    assert len(outcome.content) < tools.MAX_OUTPUT_CHARS + 100
    assert "START" in outcome.content and outcome.content.rstrip().endswith("END")
    assert "characters cut" in outcome.content


def test_credentials_are_not_in_the_commands_environment() -> None:
    env = tools.scrubbed_environment(
        {"PATH": "/bin", "ANTHROPIC_API_KEY": "k", "GIT_TOKEN": "t", "NPM_TOKEN": "n",
         "AGENT_TASK_JSON": "{}", "ANTHROPIC_BASE_URL": "u", "HOME": "/h"}
    )
    assert env == {"PATH": "/bin", "HOME": "/h", "GIT_TERMINAL_PROMPT": "0"}
    in_root = tools.scrubbed_environment({"GIT_CONFIG_COUNT": "3"}, Path("/ws"))
    assert in_root["GIT_CONFIG_COUNT"] == "1" and in_root["GIT_CONFIG_VALUE_0"] == "/ws"


class Scripted(sandbox.Client):
    """An executor that answers what it is told to (as a replaced one could)."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        super().__init__(Path("/nonexistent"))
        self.answers = list(answers)

    def request(self, payload: Mapping[str, Any], *, timeout: float = 60.0) -> dict[str, Any]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_read_only_workspace_ends_the_attempt(tmp_path: Path) -> None:
    box = tools.ToolBox(
        root=tmp_path, command_timeout=lambda: 5.0,
        executor=Scripted({"content": "x", "is_error": True, "fatal": "Read-only file system"}),
    )
    with pytest.raises(failures.RunFailure) as caught:
        box.run("write_file", {"path": "x", "content": "y"})
    assert caught.value.reason == "ToolError" and "writable volume" in caught.value.message


def test_a_missing_or_strange_executor_is_an_error_result(tmp_path: Path) -> None:
    box = tools.ToolBox(
        root=tmp_path, command_timeout=lambda: 5.0,
        executor=Scripted(
            sandbox.Unavailable("connection refused"),
            {"content": 42},
            sandbox.Unavailable("no answer"),
            {"exit_code": "zero", "output": "hi"},
        ),
    )
    first = box.run("read_file", {"path": "a"})
    assert first.is_error and "connection refused" in first.content
    assert box.run("list_files", {}).is_error
    unanswered = box.run("bash", {"command": "true"})
    assert "not run" in unanswered.content and "no answer" in unanswered.content
    assert box.commands[-1].exit_code is None
    odd = box.run("bash", {"command": "true"})
    assert box.commands[-1].exit_code is None and "hi" in odd.content


def test_undecodable_files_and_nul_characters_are_error_results(
    toolbox: tools.ToolBox,
) -> None:
    (toolbox.root / "bin.dat").write_bytes(b"\xff\xfe\x00abc\n\x80")
    read = toolbox.run("read_file", {"path": "bin.dat"})
    assert not read.is_error and "abc" in read.content
    edit = toolbox.run("edit_file", {"path": "bin.dat", "old_text": "abc", "new_text": "x"})
    assert edit.is_error and "not UTF-8" in edit.content
    for name, tool_input in (
        ("read_file", {"path": "a\0b"}),
        ("write_file", {"path": "a\0b", "content": "x"}),
        ("list_files", {"path": "\0"}),
        ("write_file", {"path": "lone.txt", "content": "\ud800"}),
    ):
        outcome = toolbox.run(name, tool_input)
        assert isinstance(outcome.content, str), name
    assert toolbox.run("read_file", {"path": "a\0b"}).is_error
    assert "exit code" in toolbox.run("bash", {"command": "echo ok"}).content


def record(
    command: str, code: int | None, output: str = "", check_round: int | None = None
) -> tools.CommandRecord:
    return tools.CommandRecord(command, code, 0.1, output_tail=output, check_round=check_round)


def test_tests_passed_is_judged_by_the_last_test_run() -> None:
    assert tools.tests_passed([record("ls", 0)]) is None
    runs = [
        record("pytest -q", 1, "1 failed in 0.02s"),
        record("vim x", 0),
        record("cd app && npm test", 0, "Tests:       3 passed, 3 total"),
    ]
    assert tools.tests_passed(runs) is True
    assert tools.tests_passed([*runs, record("go test ./...", 2, "FAIL\tapp\t0.1s")]) is False
    # A summary says it was a test run, not the name: these say nothing.
    assert tools.tests_passed([record("echo pytest", 0, "pytest")]) is None
    assert tools.tests_passed([record("pytest -q", 0, "")]) is None
    assert tools.tests_passed([record("./check.sh", 0, "5 passed in 1.20s")]) is True


def test_a_round_of_checks_passes_only_if_every_test_run_in_it_does() -> None:
    agent_run = record("pytest", 0, "2 passed in 0.1s")
    unit = record("pytest tests/unit", 1, "1 failed, 9 passed in 0.3s", check_round=1)
    lint = record("ruff check .", 0, "All checks passed!", check_round=1)
    e2e = record("pytest tests/e2e", 0, "4 passed in 2.0s", check_round=1)
    assert tools.tests_passed([agent_run, unit, lint, e2e]) is False
    fixed = record("pytest tests/unit", 0, "10 passed in 0.3s", check_round=2)
    again = record("pytest tests/e2e", 0, "4 passed in 2.0s", check_round=2)
    assert tools.tests_passed([agent_run, unit, e2e, fixed, again]) is True
    assert tools.tests_passed([agent_run, lint]) is True  # ruff is no test run


def test_the_report_claim_is_validated() -> None:
    claim = tools.parse_report_claim({"summary": "s", "status": "completed",
                                      "tests_passed": True, "test_command": " make test "})
    assert claim == tools.ReportClaim("s", True)
    with pytest.raises(tools.ToolInputError):
        tools.parse_report_claim({"summary": "s", "status": "done"})
