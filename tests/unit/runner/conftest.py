"""Fixtures for the agent runner's tests.

Faked: only the Anthropic Messages API, by a small HTTP server on 127.0.0.1 that
returns scripted replies in the API's wire format. The real ``anthropic`` SDK talks to
it through ``ANTHROPIC_BASE_URL``, so request building, response parsing, error
classes and headers are the SDK's own.

Not faked: git (real repositories, with bare ``file://`` remotes), the shell, the file
system, and the runner's process entry point (``agent_runner.cli.main``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .fakes import FakeMessagesAPI, Remote, git


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
