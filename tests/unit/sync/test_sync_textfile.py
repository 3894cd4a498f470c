"""Atomic write-back that never overwrites a person's edit; bytes kept exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_sync import textfile


def test_replace_writes_by_rename_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes(b"old")
    path.chmod(0o640)
    inode = path.stat().st_ino
    textfile.replace_if_unchanged(path, b"old", b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["plan.md"]


def test_replace_refuses_when_the_file_changed(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes(b"a person's edit")
    with pytest.raises(textfile.FileChanged):
        textfile.replace_if_unchanged(path, b"what the sidecar read", b"status")
    assert path.read_bytes() == b"a person's edit"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.md"]


def test_bytes_that_are_not_utf8_round_trip_with_a_warning() -> None:
    data = b"- [ ] T001.001 ok\n- [ ] T001.002 caf\xe9\n"
    text, problems = textfile.decode(data)
    assert textfile.encode(text) == data
    assert [(p.line, p.code) for p in problems] == [(2, "not-utf8")]
