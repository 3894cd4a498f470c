"""Fixtures for the agent runner's tests.

Faked: only the Anthropic Messages API, by a small HTTP server on 127.0.0.1 that
returns scripted replies in the API's wire format. The real ``anthropic`` SDK talks to
it through ``ANTHROPIC_BASE_URL``, so request building, response parsing, error
classes and headers are the SDK's own.

Not faked: git (real repositories, with bare ``file://`` remotes), the shell, the file
system, and the runner's process entry point (``agent_runner.cli.main``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_api.models import TaskResult
from agent_api.report import REPORT_LIMIT_BYTES
from agent_runner import cli

from .fakes import API_KEY, GIT_TOKEN, FakeMessagesAPI, Remote, git


@pytest.fixture
def fake_api() -> Iterator[FakeMessagesAPI]:
    api = FakeMessagesAPI()
    api.start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's git configuration out of the tests."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir(exist_ok=True)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("AGENT_GIT_PROTOCOLS", "file")  # the remotes are file:// ones
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Runner")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "runner@example.test")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Runner")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "runner@example.test")


@pytest.fixture
def remote(tmp_path: Path, git_identity: None) -> Remote:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", bare.as_uri(), str(seed))
    git(seed, "checkout", "--quiet", "-B", "main")
    (seed / "README.md").write_text("# demo\n")
    (seed / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    git(seed, "add", ".")
    git(seed, "commit", "--quiet", "-m", "initial")
    git(seed, "push", "--quiet", "origin", "main")
    return Remote(bare)


class Run:
    """One finished runner invocation."""

    def __init__(self, code: int, report_path: Path, stdout: str) -> None:
        self.code = code
        self.raw = report_path.read_bytes()
        self.report: dict[str, Any] = json.loads(self.raw)
        self.stdout = stdout
        # The operator's parser accepts it.
        TaskResult.model_validate(self.report)
        assert len(self.raw) <= REPORT_LIMIT_BYTES


@pytest.fixture
def runner_env(monkeypatch: pytest.MonkeyPatch, fake_api: FakeMessagesAPI) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENT_", "ANTHROPIC_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    monkeypatch.setenv("GIT_TOKEN", GIT_TOKEN)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("AGENT_MAX_RETRY_WAIT_SECONDS", "2")


@pytest.fixture
def run(
    tmp_path: Path, runner_env: None, git_identity: None, capsys: pytest.CaptureFixture[str]
) -> Any:
    def invoke(task: dict[str, Any] | str, *args: str) -> Run:
        task_file = tmp_path / "task.json"
        task_file.write_text(task if isinstance(task, str) else json.dumps(task))
        report_path = tmp_path / "termination-log"
        code = cli.main(
            ["--task", str(task_file), "--workspace", str(tmp_path / "ws"),
             "--report", str(report_path), *args]
        )
        return Run(code, report_path, capsys.readouterr().out)

    return invoke
