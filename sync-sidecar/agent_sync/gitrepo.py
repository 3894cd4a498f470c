"""Git mode: the plan file lives in a repository; checkbox changes are commits.

The sidecar keeps a clone of one branch. Before a sync it fetches and moves to the
remote branch; a write-back is a commit of the one file, pushed at once. When the
push is refused because someone pushed meanwhile, the commit is rebased onto theirs
and pushed again; when the rebase conflicts (a person edited the same line), the
commit is dropped and FileChanged is raised, so the sync re-reads and re-applies:
a person's edit always wins.

The token (env GIT_TOKEN, from a Secret) reaches git through GIT_ASKPASS, never
through the URL, the command line or the log.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import time
from pathlib import Path

from agent_sync.render import public_url
from agent_sync.textfile import FileChanged, check_size, replace_if_unchanged

log = logging.getLogger(__name__)
_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$AGENT_SYNC_GIT_USERNAME" ;;
  *) printf '%s\\n' "$AGENT_SYNC_GIT_PASSWORD" ;;
esac
"""


class GitError(Exception):
    """A git command failed; the message names it and what git said."""


class GitRepo:
    def __init__(
        self,
        *,
        url: str,
        branch: str,
        path: str,
        workdir: Path,
        author: str,
        username: str = "x-access-token",
        token: str | None = None,
        fetch_interval: float = 0.0,
    ):
        self.url = url
        self.branch = branch
        self.workdir = workdir
        self.file = workdir / path
        self.relative = path
        self.author = author
        self.fetch_interval = fetch_interval  # a sync within this many seconds skips the fetch
        self._fetched_at: float | None = None
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        if token:
            askpass = workdir.parent / f".{workdir.name}-askpass.sh"
            askpass.parent.mkdir(parents=True, exist_ok=True)
            askpass.write_text(_ASKPASS)
            askpass.chmod(stat.S_IRWXU)
            self.env.update({
                "GIT_ASKPASS": str(askpass),
                "AGENT_SYNC_GIT_USERNAME": username,
                "AGENT_SYNC_GIT_PASSWORD": token,
            })

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *args], cwd=self.workdir, env=self.env, capture_output=True, text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise GitError(
                f"git {args[0]} failed ({done.returncode}): {done.stderr.strip()[-800:]}"
            )
        return done

    def prepare(self) -> None:
        """Clones the branch, or reuses a clone of the same repository left from before."""
        if (self.workdir / ".git").exists():
            self.git("remote", "set-url", "origin", self.url)
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", self.branch)
            self.git("remote", "add", "origin", self.url)
        name, _, email = self.author.partition("<")
        self.git("config", "user.name", name.strip() or "agent-sync")
        self.git("config", "user.email", email.rstrip(">").strip() or "agent-sync@localhost")
        self.refresh()

    def refresh(self) -> None:
        """Moves to the remote branch, keeping a local commit not yet pushed on top.

        Fetches at most every `fetch_interval` seconds: a busy plan syncs on every task
        change, and a refused push catches up with the remote anyway.
        """
        now = time.monotonic()
        if self._fetched_at is not None and now - self._fetched_at < self.fetch_interval:
            return
        remote = f"origin/{self.branch}"
        fetched = self.git(
            "fetch", "-q", "origin", f"+{self.branch}:refs/remotes/{remote}", check=False
        )
        if fetched.returncode != 0:
            raise GitError(
                f"cannot fetch branch {self.branch!r} of {public_url(self.url)}: "
                f"{fetched.stderr.strip()[-500:]}; check the URL, the branch and the token"
            )
        self._fetched_at = now
        if self.git("rev-parse", "-q", "--verify", "HEAD", check=False).returncode != 0:
            self.git("checkout", "-q", "-B", self.branch, remote)
            return
        if self.git("rebase", "-q", remote, check=False).returncode != 0:
            self.git("rebase", "--abort", check=False)
            self.git("reset", "-q", "--hard", remote)

    def read(self) -> bytes:
        check_size(self.relative, self.file.stat().st_size)
        return self.file.read_bytes()

    def write(self, expected: bytes, new: bytes, message: str) -> None:
        """Commits the new content and pushes it; FileChanged when someone else won."""
        replace_if_unchanged(self.file, expected, new)
        self.git("add", "--", self.relative)
        self.git("commit", "-q", "-m", message, "--", self.relative)
        for _ in range(3):
            if self.git("push", "-q", "origin", f"HEAD:{self.branch}", check=False).returncode == 0:
                return
            log.info("push of %s refused: rebasing onto the remote branch", self.relative)
            self.git("fetch", "-q", "origin", f"+{self.branch}:refs/remotes/origin/{self.branch}")
            if self.git("rebase", "-q", f"origin/{self.branch}", check=False).returncode != 0:
                self.git("rebase", "--abort", check=False)
                self.git("reset", "-q", "--hard", f"origin/{self.branch}")
                raise FileChanged(f"{self.relative}: a person changed the same lines; re-reading")
        self.git("reset", "-q", "--hard", f"origin/{self.branch}")
        raise GitError(f"could not push {self.relative} to {public_url(self.url)} after 3 tries")
