"""The workspace executor: streamed and capped output, timeouts, the socket protocol."""

from __future__ import annotations

import ast
import os
import resource
import sys
import time
from pathlib import Path

import pytest
from agent_runner import executor, sandbox


def run(command: str, tmp_path: Path, timeout: float = 10.0, **kw: object) -> dict[str, object]:
    return executor.run_command(
        command, cwd=tmp_path, env={"PATH": os.environ["PATH"]}, timeout=timeout, **kw  # type: ignore[arg-type]
    )


def test_huge_output_is_streamed_and_only_its_ends_are_kept(tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = run("echo START; head -c 300M /dev/zero | tr '\\0' x; echo; echo END", tmp_path,
                 timeout=60, head_bytes=100, tail_bytes=100)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before

    assert answer["exit_code"] == 0 and answer["timed_out"] is False
    assert answer["total_bytes"] > 300 * 2**20
    text = str(answer["output"])
    assert text.startswith("START\n") and text.endswith("END\n") and "bytes cut" in text
    assert len(text) < 400
    assert grown_kib < 64 * 1024  # never the whole output in memory


def test_a_child_holding_the_pipe_delays_the_answer_only_briefly(tmp_path: Path) -> None:
    started = time.monotonic()
    answer = run("setsid sleep 60 & echo $! > child.pid; echo parent done", tmp_path, grace=0.5)

    assert time.monotonic() - started < 5
    assert answer["exit_code"] == 0 and "parent done" in str(answer["output"])
    os.kill(int((tmp_path / "child.pid").read_text()), 9)


def test_a_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    started = time.monotonic()
    answer = run(f"(sleep 2; touch {marker}) & sleep 30", tmp_path, timeout=0.5)

    assert time.monotonic() - started < 5
    assert answer["timed_out"] is True and answer["exit_code"] is None
    time.sleep(2.5)
    assert not marker.exists()


def test_the_server_answers_every_request_even_bad_ones(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    client = sandbox.LocalExecutor(root, {"PATH": os.environ["PATH"]})
    try:
        assert client.request({"op": "ping"})["ok"] is True
        assert "unknown request" in client.request({"op": "format-disk"})["error"]
        assert "string" in client.request({"op": "bash", "command": 3})["error"]
        assert "NUL" in client.request({"op": "bash", "command": "a\0b"})["error"]
        answer = client.request({"op": "tool", "name": "read_file", "input": {"path": "\0"}})
        assert answer["is_error"] is True
        bash = client.request({"op": "bash", "command": "env", "timeout": 5})
        assert "GIT_TERMINAL_PROMPT=0" in bash["output"]
        # Left running by a command: killed on request, before the runner commits.
        client.request({"op": "bash", "command": "sleep 300 > /dev/null 2>&1 &",
                        "timeout": 5})
        assert client.request({"op": "kill_all"})["killed"] >= 1
    finally:
        client.close()
    with pytest.raises(sandbox.Unavailable):
        client.request({"op": "ping"})


def test_the_executor_needs_only_the_standard_library() -> None:
    tree = ast.parse(Path(executor.__file__).read_text())
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules


def test_install_copies_the_single_file(tmp_path: Path) -> None:
    target = tmp_path / "exec" / "executor.py"
    assert executor.main(["--install", str(target)]) == 0
    assert target.read_text() == Path(executor.__file__).read_text()
