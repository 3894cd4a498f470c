"""The workspace: clones, branches, changed files (real git, bare file:// remotes)."""

from __future__ import annotations

import base64
from pathlib import Path

from agent_api.models import Repository
from agent_runner import workspace

from .fakes import Remote, git


def noop(text: str) -> None:
    pass


def _config(env: dict[str, str]) -> dict[str, str]:
    return {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }


def test_the_token_reaches_git_only_through_the_environment() -> None:
    env = workspace._git_env(
        {"PATH": "/bin", "GIT_TOKEN": "tok-123456", "ANTHROPIC_API_KEY": "k",
         "GIT_SSH_COMMAND": "evil", "LD_PRELOAD": "x.so"},
        "tok-123456",
    )

    assert "GIT_TOKEN" not in env and "ANTHROPIC_API_KEY" not in env
    assert "GIT_SSH_COMMAND" not in env and "LD_PRELOAD" not in env
    config = _config(env)
    assert config["http.extraHeader"] == "Authorization: Basic " + base64.b64encode(
        b"x-access-token:tok-123456"
    ).decode()
    assert "http.extraHeader" not in _config(workspace._git_env({"PATH": "/bin"}, None))
    with_root = _config(workspace._git_env({"GIT_CONFIG_COUNT": "9"}, None, Path("/workspace")))
    assert with_root["safe.directory"] == "/workspace"


def test_git_runs_no_hooks_no_fsmonitor_and_only_allowed_protocols() -> None:
    env = workspace._git_env({"PATH": "/bin"}, None)
    config = _config(env)
    assert config["core.hooksPath"] == "/dev/null" and config["core.fsmonitor"] == "false"
    assert config["protocol.allow"] == "never" and config["protocol.https.allow"] == "always"
    assert "protocol.file.allow" not in config and "protocol.http.allow" not in config
    assert env["GIT_CONFIG_NOSYSTEM"] == "1" and env["GIT_CONFIG_GLOBAL"] == "/dev/null"
    tests = _config(workspace._git_env({"AGENT_GIT_PROTOCOLS": "file, ext, https"}, None))
    assert tests["protocol.file.allow"] == "always" and "protocol.ext.allow" not in tests


def test_what_the_agent_plants_in_the_clone_does_not_run(remote: Remote, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    space = workspace.clone_repository(
        root, Repository(url=remote.url), task_id="T6", token="tok", env=_env(), log=noop
    )
    ran = tmp_path / "ran"
    hook = root / ".git" / "hooks" / "pre-push"
    for name in ("pre-push", "pre-commit", "post-commit", "reference-transaction"):
        path = root / ".git" / "hooks" / name
        path.write_text(f"#!/bin/sh\necho {name} >> {ran}\n")
        path.chmod(0o755)
    monitor = root / "monitor.sh"
    monitor.write_text(f"#!/bin/sh\necho fsmonitor >> {ran}\n")
    monitor.chmod(0o755)
    with (root / ".git" / "config").open("a") as config:
        config.write(
            f"[core]\n\tfsmonitor = {monitor}\n\thooksPath = {hook.parent}\n"
            f'[filter "x"]\n\tclean = sh -c "echo filter >> {ran}; cat"\n'
            f'[url "file:///nonexistent/"]\n\tinsteadOf = {remote.url}\n'
        )
    (root / ".gitattributes").write_text("* filter=x\n")
    (root / "work.txt").write_text("done\n")

    outcome = space.finish("T6: work")

    assert outcome.error is None, outcome.error
    assert not ran.exists(), ran.read_text()
    assert remote.rev("agent/T6") == outcome.commit
    assert "insteadOf" not in (root / ".git" / "config").read_text()


def test_changes_are_counted_from_the_start_branch(remote: Remote, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    space = workspace.clone_repository(
        root, Repository(url=remote.url), task_id="T7", token=None, env=_env(), log=noop
    )
    assert git(root, "branch", "--show-current") == "agent/T7"
    (root / "calc.py").write_text("changed\n")
    (root / "new dir").mkdir()
    (root / "new dir" / "ünïcode.txt").write_text("x")
    (root / "README.md").unlink()

    assert space.files_changed() == ("README.md", "calc.py", "new dir/ünïcode.txt")
    outcome = space.finish("T7: work")

    assert outcome.error is None and outcome.branch == "agent/T7"
    assert outcome.files_changed == ("README.md", "calc.py", "new dir/ünïcode.txt")
    assert remote.rev("agent/T7") == outcome.commit


def test_nothing_changed_means_no_branch_and_no_commit(remote: Remote, tmp_path: Path) -> None:
    space = workspace.clone_repository(
        tmp_path / "ws", Repository(url=remote.url), task_id="T8", token=None, env=_env(),
        log=noop,
    )

    outcome = space.finish("T8: nothing")

    assert outcome == workspace.Outcome(files_changed=())
    assert remote.branches() == ["main"]


def test_commits_the_agent_made_itself_are_counted_and_pushed(
    remote: Remote, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    space = workspace.clone_repository(
        root, Repository(url=remote.url), task_id="T9", token=None, env=_env(), log=noop
    )
    (root / "mine.txt").write_text("x")
    git(root, "add", "mine.txt")
    git(root, "commit", "-q", "-m", "agent's own commit")

    outcome = space.finish("T9: wrap")

    assert outcome.files_changed == ("mine.txt",)
    assert remote.rev("agent/T9") == outcome.commit == git(root, "rev-parse", "HEAD")


def test_a_plain_workspace_compares_contents(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "same.txt").write_text("a")
    (root / "edit.txt").write_text("a")
    (root / "gone.txt").write_text("a")
    space = workspace.open_plain(root)
    (root / "edit.txt").write_text("b")
    (root / "gone.txt").unlink()
    (root / "new.txt").write_text("c")
    (root / "same.txt").touch()

    assert space.finish("").files_changed == ("edit.txt", "gone.txt", "new.txt")


def test_commit_message_names_the_task_and_outcome() -> None:
    message = workspace.commit_message(
        task_id="T001.002", title="x" * 100, summary="did", agent="a", attempt=2,
        outcome="failed (MaxTurns)",
    )
    subject, _, body = message.partition("\n\n")
    assert subject.startswith("T001.002: xxx") and len(subject) <= 72
    assert "did" in body and "Attempt: 2" in body and "Outcome: failed (MaxTurns)" in body


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
