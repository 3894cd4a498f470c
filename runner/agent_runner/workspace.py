"""The directory the agent works in, and what it changed there.

With a repository the workspace is a clone on branch ``agent/<task-id>`` (continuing
that branch when an earlier attempt pushed it); at the end everything is committed and
pushed, failed attempts included, so partial work survives the pod. The files changed
come from git, never from what the model says it did. Without a repository they come
from comparing the workspace with a snapshot taken before the agent started.

The git token reaches git only through environment configuration of the clone and push
commands (an ``http.extraHeader``), so it is never written into ``.git/config`` where the
agent's shell could read it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from agent_api import models

from agent_runner import failures

BRANCH_PREFIX: Final = "agent/"
GIT_TIMEOUT_SECONDS: Final = 600.0
DEFAULT_AUTHOR_NAME: Final = "agent-runner"
DEFAULT_AUTHOR_EMAIL: Final = "agent-runner@orchestration.coditect.ai"
SNAPSHOT_MAX_FILES: Final = 50_000
SNAPSHOT_SKIP_DIRS: Final = frozenset({".git"})

Log = Callable[[str], None]


def agent_branch(task_id: str) -> str:
    """The branch an attempt works on: one per task, shared by its attempts."""
    return f"{BRANCH_PREFIX}{task_id}"


@dataclass(frozen=True)
class Outcome:
    """What the workspace holds at the end of the attempt."""

    files_changed: tuple[str, ...]
    branch: str | None = None
    commit: str | None = None
    error: failures.RunFailure | None = None  # committing or pushing failed


# --------------------------------------------------------------------------- git


def git_config_env(entries: Mapping[str, str]) -> dict[str, str]:
    """Git configuration passed through the environment (the "command" scope).

    Unlike ``-c`` arguments it is not visible in the process list, and unlike
    ``.git/config`` it is not left on disk for the agent to read.
    """
    env = {"GIT_CONFIG_COUNT": str(len(entries))}
    for index, (key, value) in enumerate(entries.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


# What git may run or read on the runner's behalf in a clone the agent has had its hands
# on: no hooks, no fsmonitor daemon, no system or global configuration, and only the
# transports the runner allows. Command-scope settings (the environment) beat the clone's
# own .git/config, which the runner also rewrites before it commits (see GitWorkspace).
HARDENED_CONFIG: Final[dict[str, str]] = {
    "core.hooksPath": "/dev/null",
    "core.fsmonitor": "false",
    "core.sshCommand": "false",
    "credential.helper": "",
    "protocol.allow": "never",
}
PROTOCOLS_ENV: Final = "AGENT_GIT_PROTOCOLS"  # e.g. "https" (default) or "https,file"
DEFAULT_PROTOCOLS: Final = ("https",)
# Of the runner's environment, what git gets: nothing else (no GIT_*, no secrets).
_PASSED_ENV: Final = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
                      "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy",
                      "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                      "GIT_COMMITTER_EMAIL")


def allowed_protocols(env: Mapping[str, str]) -> tuple[str, ...]:
    """The transports git may use: $AGENT_GIT_PROTOCOLS (https, http, file) or https."""
    named = [p.strip() for p in (env.get(PROTOCOLS_ENV) or "").split(",") if p.strip()]
    return tuple(p for p in named if p in ("https", "http", "file")) or DEFAULT_PROTOCOLS


def _git_env(
    base: Mapping[str, str], token: str | None, root: Path | None = None
) -> dict[str, str]:
    """A minimal environment for git: a few of the runner's variables, no configuration
    but the runner's own, the token only on the commands that talk to the remote."""
    env = {name: base[name] for name in _PASSED_ENV if name in base}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["HOME"] = "/nonexistent"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = "/dev/null"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ASKPASS"] = "true"
    env.setdefault("GIT_AUTHOR_NAME", DEFAULT_AUTHOR_NAME)
    env.setdefault("GIT_AUTHOR_EMAIL", DEFAULT_AUTHOR_EMAIL)
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    config: dict[str, str] = dict(HARDENED_CONFIG)
    for protocol in allowed_protocols(base):
        config[f"protocol.{protocol}.allow"] = "always"
    if root is not None:
        # The workspace volume may belong to another uid than the pod's user; without
        # this git refuses it as "dubious ownership".
        config["safe.directory"] = str(root)
    if token:
        credentials = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        config["http.extraHeader"] = f"Authorization: Basic {credentials}"
    env.update(git_config_env(config))
    return env


@dataclass
class Git:
    """Runs git in one directory; failures become ToolError naming the command."""

    cwd: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    token: str | None = None

    def __call__(
        self, *args: str, authenticated: bool = False, check: bool = True, raw: bool = False
    ) -> str:
        """Stdout of ``git ARGS`` (stripped unless raw); "" when it failed and check is off."""
        try:
            completed = subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                env=_git_env(self.env, self.token if authenticated else None, self.cwd),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise failures.RunFailure(
                failures.TOOL_ERROR, f"git {args[0]} could not run: {error}"
            ) from error
        if check and completed.returncode != 0:
            detail = [
                line.strip()
                for line in (completed.stderr or completed.stdout).splitlines()
                if line.strip()
            ]
            raise failures.RunFailure(
                failures.TOOL_ERROR,
                f"git {args[0]} failed (exit {completed.returncode}): "
                + (" | ".join(detail[-8:]) or "no output"),
            )
        if completed.returncode != 0:
            return ""
        return completed.stdout if raw else completed.stdout.strip()


@dataclass
class GitWorkspace:
    """A clone of the task's repository on the agent branch."""

    root: Path
    git: Git
    agent_branch: str
    base_commit: str  # the start branch's tip: files changed are counted from here
    remote_tip: str | None  # the agent branch on the remote when the attempt began
    log: Log
    config_text: str = ""  # .git/config as the clone left it, before the agent ran

    @property
    def branch(self) -> str | None:
        return self.agent_branch

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def files_changed(self) -> tuple[str, ...]:
        """Paths differing between the start branch and HEAD plus the working tree."""
        committed = self.git(
            "diff", "--name-only", "--no-renames", "-z", self.base_commit, "HEAD", raw=True
        )
        pending = self.git(
            "status", "--porcelain", "--no-renames", "-z", "--untracked-files=all", raw=True
        )
        paths = set(filter(None, committed.split("\0")))
        for entry in pending.split("\0"):
            if len(entry) > 3:
                paths.add(entry[3:])
        return tuple(sorted(paths))

    def reset_config(self) -> None:
        """Puts back the clone's .git/config as the runner wrote it, dropping whatever the
        agent added (filters, aliases, url rewrites, includes): the runner's git commands
        run with the credentials at hand. A .git that is no longer a plain directory of
        the runner's is refused."""
        git_dir = self.root / ".git"
        if git_dir.is_symlink() or not git_dir.is_dir():
            raise failures.RunFailure(
                failures.TOOL_ERROR, f"{git_dir} is no longer a directory; not saving from it"
            )
        target = git_dir / "config"
        partial = git_dir / "config.runner"
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.config_text)
        os.replace(partial, target)

    def finish(self, message: str) -> Outcome:
        """Commit everything, push the agent branch, and say what changed."""
        try:
            self.reset_config()
            self.git("add", "--all")
            if self.git("diff", "--cached", "--name-only"):
                self.git("commit", "--quiet", "--no-verify", "-m", message)
                self.log(f"committed {self.head()[:12]} on {self.agent_branch}")
            head = self.head()
            files = self.files_changed()
            if head == self.base_commit:
                return Outcome(files_changed=files)
            if head != self.remote_tip:
                self.git(
                    "push", "--quiet", "--no-verify", "origin",
                    f"HEAD:refs/heads/{self.agent_branch}", authenticated=True,
                )
                self.log(f"pushed {head[:12]} to {self.agent_branch}")
            return Outcome(files_changed=files, branch=self.agent_branch, commit=head)
        except failures.RunFailure as error:
            try:
                files = self.files_changed()
            except failures.RunFailure:
                files = ()
            return Outcome(files_changed=files, error=error)


def clone_repository(
    root: Path,
    repository: models.Repository,
    *,
    task_id: str,
    token: str | None,
    env: Mapping[str, str],
    log: Log,
) -> GitWorkspace:
    """Clone (or reuse a clone in) ``root`` and check out the agent branch."""
    root.mkdir(parents=True, exist_ok=True)
    git = Git(root, env=env, token=token)
    branch = agent_branch(task_id)
    if (root / ".git").exists():
        log(f"reusing the clone in {root}")
        git("fetch", "--quiet", "origin", authenticated=True)
    else:
        if any(root.iterdir()):
            raise failures.RunFailure(
                failures.TOOL_ERROR,
                f"the workspace {root} is not empty and not a git clone; give the Job an "
                "empty volume for the repository",
            )
        log(f"cloning {repository.url} (branch {repository.branch})")
        git("clone", "--quiet", "--no-tags", "--branch", repository.branch, "--",
            repository.url, ".", authenticated=True)
    start = f"refs/remotes/origin/{repository.branch}"
    base_commit = git("rev-parse", "--verify", f"{start}^{{commit}}")
    remote_tip = git(
        "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}",
        check=False,
    ) or None
    if remote_tip:
        log(f"continuing {branch} from an earlier attempt ({remote_tip[:12]})")
        git("checkout", "--quiet", "-B", branch, remote_tip)
    else:
        git("checkout", "--quiet", "-B", branch, base_commit)
    return GitWorkspace(
        root=root,
        git=git,
        agent_branch=branch,
        base_commit=base_commit,
        remote_tip=remote_tip,
        log=log,
        config_text=(root / ".git" / "config").read_text(encoding="utf-8"),
    )


# --------------------------------------------------------------------------- plain


def snapshot(root: Path) -> dict[str, str]:
    """Content digest of every file under root (paths relative, POSIX)."""
    digests: dict[str, str] = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SNAPSHOT_SKIP_DIRS]
        for name in filenames:
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            try:
                if path.is_symlink():
                    digests[relative] = "link:" + os.readlink(path)
                else:
                    digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                digests[relative] = "unreadable"
            if len(digests) >= SNAPSHOT_MAX_FILES:
                return digests
    return digests


def changed_between(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[str, ...]:
    """Paths added, modified or deleted."""
    return tuple(
        sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    )


@dataclass
class PlainWorkspace:
    """A directory without a repository: changes are found by content comparison."""

    root: Path
    before: dict[str, str]

    @property
    def branch(self) -> str | None:
        return None

    def files_changed(self) -> tuple[str, ...]:
        return changed_between(self.before, snapshot(self.root))

    def finish(self, message: str) -> Outcome:
        return Outcome(files_changed=self.files_changed())


def open_plain(root: Path) -> PlainWorkspace:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise failures.RunFailure(
            failures.TOOL_ERROR, f"cannot create the workspace {root}: {error.strerror}"
        ) from error
    if not os.access(root, os.W_OK):
        raise failures.RunFailure(
            failures.TOOL_ERROR, f"the workspace {root} is not writable by this user"
        )
    return PlainWorkspace(root=root, before=snapshot(root))


def open_workspace(
    root: Path,
    task_input_repository: models.Repository | None,
    *,
    task_id: str,
    token: str | None,
    env: Mapping[str, str],
    log: Log,
) -> GitWorkspace | PlainWorkspace:
    """The workspace for this task: a clone when it names a repository."""
    if task_input_repository is None:
        return open_plain(root)
    return clone_repository(
        root, task_input_repository, task_id=task_id, token=token, env=env, log=log
    )


def commit_message(
    *, task_id: str, title: str, summary: str, agent: str, attempt: int, outcome: str
) -> str:
    """A message a reviewer of the branch can read without the cluster."""
    subject = f"{task_id}: {title}".strip()
    if len(subject) > 72:
        subject = subject[:71] + "…"
    body = summary.strip() or "(no summary)"
    return (
        f"{subject}\n\n{body}\n\n"
        f"Agent: {agent}\nAttempt: {attempt}\nOutcome: {outcome}\n"
    )
