"""Git mode against local repositories (file://): clone, commit, push, rebase, conflict."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from agent_sync import textfile
from agent_sync.gitrepo import GitError, GitRepo

PLAN = b"- [ ] T001.001 One\n\n## Later\n\n- [ ] T001.002 Two\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Person", "-c", "user.email=p@example.com", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "plans").mkdir()
    (seed / "plans" / "plan.md").write_bytes(PLAN)
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "plan")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return bare


def person_pushes(tmp_path: Path, remote: Path, old: bytes, new: bytes) -> None:
    clone = tmp_path / "person"
    if not clone.exists():
        git(tmp_path, "clone", "-q", str(remote), str(clone))
    git(clone, "pull", "-q", "origin", "main")
    path = clone / "plans" / "plan.md"
    path.write_bytes(path.read_bytes().replace(old, new))
    git(clone, "commit", "-q", "-am", "person's edit")
    git(clone, "push", "-q", "origin", "HEAD:main")


def repo_for(tmp_path: Path, remote: Path) -> GitRepo:
    repo = GitRepo(url=f"file://{remote}", branch="main", path="plans/plan.md",
                   workdir=tmp_path / "work", author="agent-sync <sync@example.com>")
    repo.prepare()
    return repo


def test_write_commits_and_pushes(tmp_path: Path, remote: Path) -> None:
    repo = repo_for(tmp_path, remote)
    assert repo.read() == PLAN
    new = PLAN.replace(b"[ ] T001.001", b"[x] T001.001")
    repo.write(PLAN, new, "agent-sync: tick T001.001 (Succeeded)")
    assert git(remote, "show", "main:plans/plan.md").encode() == new
    assert "agent-sync: tick T001.001" in git(remote, "log", "-1", "--format=%s %an", "main")
    assert "agent-sync" in git(remote, "log", "-1", "--format=%an", "main")


def test_refused_push_is_rebased_onto_the_persons_commit(tmp_path: Path, remote: Path) -> None:
    repo = repo_for(tmp_path, remote)
    person_pushes(tmp_path, remote, b"Two", b"Two, edited")
    new = PLAN.replace(b"[ ] T001.001", b"[x] T001.001")
    repo.write(PLAN, new, "agent-sync: tick T001.001 (Succeeded)")
    assert git(remote, "show", "main:plans/plan.md").encode() == (
        b"- [x] T001.001 One\n\n## Later\n\n- [ ] T001.002 Two, edited\n"
    )


def test_conflicting_edit_wins_and_the_sync_rereads(tmp_path: Path, remote: Path) -> None:
    repo = repo_for(tmp_path, remote)
    person_pushes(tmp_path, remote, b"One", b"One, renamed")
    with pytest.raises(textfile.FileChanged):
        repo.write(PLAN, PLAN.replace(b"[ ] T001.001 One", b"[x] T001.001 One"), "tick")
    assert repo.read() == PLAN.replace(b"One", b"One, renamed")
    assert git(remote, "show", "main:plans/plan.md").encode() == repo.read()


def test_refresh_follows_the_remote(tmp_path: Path, remote: Path) -> None:
    repo = repo_for(tmp_path, remote)
    person_pushes(tmp_path, remote, b"Two", b"Three")
    repo.refresh()
    assert b"Three" in repo.read()


def test_unreachable_remote_names_the_url_without_credentials(tmp_path: Path) -> None:
    repo = GitRepo(url="file:///nonexistent/repo.git", branch="main", path="p.md",
                   workdir=tmp_path / "w", author="a <a@b>", token="s3cret")
    with pytest.raises(GitError) as error:
        repo.prepare()
    assert "file:///nonexistent/repo.git" in str(error.value)
    assert "s3cret" not in str(error.value)
