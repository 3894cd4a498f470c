"""Git mode end to end: a bare repository (file://), the real API server, the sidecar.

A person works in a clone of the same bare repository and pushes; the sidecar
pulls their edits into the cluster and pushes ticked boxes back as commits.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes
import pytest
from agent_sync.settings import Settings

from tests.integration.test_sync_sidecar import PLAN, SAMPLE, Tasks, running, wait_for

pytestmark = pytest.mark.integration


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Person", "-c", "user.email=person@example.com", *args],
        cwd=cwd, check=True, capture_output=True, text=True, timeout=60,
    ).stdout


@pytest.fixture
def tasks(api: kubernetes.client.ApiClient, namespace: str) -> Tasks:
    return Tasks(api, namespace)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "plans.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    person = tmp_path / "person"
    git(tmp_path, "clone", "-q", str(bare), str(person))
    (person / "plans").mkdir()
    (person / "plans" / "payments.md").write_bytes(SAMPLE.read_bytes())
    git(person, "add", ".")
    git(person, "commit", "-q", "-m", "The payments plan")
    git(person, "push", "-q", "origin", "HEAD:main")
    return bare


def remote_file(remote: Path) -> str:
    return git(remote, "show", "main:plans/payments.md")


def test_git_mode_end_to_end(
    cluster: Path, namespace: str, tmp_path: Path, remote: Path, tasks: Tasks
) -> None:
    settings = Settings(
        plan=PLAN, namespace=namespace, kubeconfig=str(cluster), metrics_port=0,
        status_comments="none",
        git_url=f"file://{remote}", git_branch="main", git_path="plans/payments.md",
        git_workdir=tmp_path / "sidecar-clone", poll_interval_seconds=0.3,
        debounce_seconds=0.2,
    )
    person = tmp_path / "person"
    with running(settings) as registry:
        wait_for("27 tasks from git", lambda: len(tasks.all()) == 27)
        source = tasks.plan()["spec"]["source"]
        assert source["path"] == "plans/payments.md"
        assert source["git"] == {"url": f"file://{remote}", "branch": "main"}

        # A person's pushed edit reaches the cluster.
        path = person / "plans" / "payments.md"
        path.write_text(path.read_text().replace(
            "Announce general availability", "Announce general availability by email"))
        git(person, "commit", "-q", "-am", "Reword the announcement")
        git(person, "push", "-q", "origin", "HEAD:main")
        wait_for(
            "the pushed edit applied",
            lambda: "by email" in tasks.get("T005.004")["spec"]["title"],
        )

        # A success becomes a commit with a clear message, and nothing else changes.
        before = remote_file(remote)
        tasks.set_phase("T002.001", "Succeeded")
        wait_for("the tick pushed", lambda: "- [x] T002.001" in remote_file(remote))
        assert remote_file(remote) == before.replace("- [ ] T002.001", "- [x] T002.001")
        message = git(remote, "log", "-1", "--format=%an|%s", "main")
        assert message.strip() == "agent-sync|agent-sync: tick T002.001 (Succeeded)"

        # The person, whose clone is now behind, edits and pushes after a pull --rebase.
        git(person, "pull", "-q", "--rebase", "origin", "main")
        path.write_text(path.read_text().replace("- [ ] T002.004", "- [x] T002.004"))
        git(person, "commit", "-q", "-am", "Seed data done by hand")
        git(person, "push", "-q", "origin", "HEAD:main")
        wait_for("a person's tick is done", lambda: tasks.get("T002.004")["spec"]["done"])
        assert registry.syncs.labels("failed")._value.get() == 0


def test_git_mode_rebases_its_commit_onto_a_concurrent_push(
    cluster: Path, namespace: str, tmp_path: Path, remote: Path, tasks: Tasks
) -> None:
    from agent_sync import gitrepo
    person = tmp_path / "person"

    class RacingRepo(gitrepo.GitRepo):
        """Someone pushes a change to another line just before the sidecar pushes."""

        raced = False

        def write(self, expected: bytes, new: bytes, message: str) -> None:
            if not self.raced:
                self.raced = True
                path = person / "plans" / "payments.md"
                path.write_text(path.read_text().replace(
                    "Announce general availability", "Announce GA"))
                git(person, "commit", "-q", "-am", "Shorter")
                git(person, "push", "-q", "origin", "HEAD:main")
            super().write(expected, new, message)

    settings = Settings(
        plan=PLAN, namespace=namespace, kubeconfig=str(cluster), metrics_port=0,
        status_comments="none",
        git_url=f"file://{remote}", git_branch="main", git_path="plans/payments.md",
        git_workdir=tmp_path / "sidecar-clone", poll_interval_seconds=0.3,
    )
    repo = RacingRepo(
        url=str(settings.git_url), branch="main", path="plans/payments.md",
        workdir=settings.git_workdir, author=settings.git_author,
    )
    repo.prepare()
    with running(settings, repo):
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        tasks.set_phase("T003.001", "Succeeded")
        wait_for("the tick pushed", lambda: "- [x] T003.001" in remote_file(remote))
        text = remote_file(remote)
        assert "Announce GA" in text, "the concurrent push is kept"
        log = git(remote, "log", "--format=%s", "main")
        assert log.splitlines()[:2] == ["agent-sync: tick T003.001 (Succeeded)", "Shorter"]
