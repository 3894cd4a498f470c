"""Merge gates on the real control plane: a plan with `spec.review: merged`, an agent
whose kwok Stage reports pull request #1, and the operator (a real process) asking the
fake forge on 127.0.0.1 about it with its real HTTP client. The dependent's Job is created
only after the fake pull request turns merged; closed unmerged, the task is Rejected and
waits for a rerun."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from agent_api import forge, models

from tests.fakeforge import TOKEN, FakeForge

from . import test_operator as base
from .conftest import kubectl
from .test_operator import (
    CREDENTIAL,
    GROUP,
    TEST_LIMITS,
    Operator,
    apply,
    condition,
    jobs_by_name,
    plan,
    profile,
    task,
    tasks_by_id,
    wait_for,
)

stages = base.stages
ns = base.ns
operators = base.operators

pytestmark = pytest.mark.integration

REPOSITORY_URL = "https://forge.example/acme/app.git"  # never cloned: kwok runs no runner


@pytest.fixture
def fake() -> Iterator[FakeForge]:
    server = FakeForge().start()
    try:
        yield server
    finally:
        server.stop()


def repository(fake: FakeForge) -> dict[str, object]:
    return {
        "url": REPOSITORY_URL,
        "credentialsSecret": {"name": "git"},
        "forge": {"type": "github", "apiUrl": fake.url, "project": "acme/app"},
    }


def start(ns: str, fake: FakeForge, operators: Callable[..., Operator]) -> None:
    """The git token, opted in and bound to the git host and the forge's API host; the
    runner's pull request #1 (kwok's Stage reports it); a plan of two tasks, T2 after T1."""
    kubectl("-n", ns, "create", "secret", "generic", "git", f"--from-literal=token={TOKEN}")
    kubectl("-n", ns, "label", "secret", "git", f"{CREDENTIAL}=true")
    kubectl("-n", ns, "annotate", "secret", "git", f"{GROUP}/allowed-hosts=forge.example,127.0.0.1")
    client = forge.connect(models.Repository.model_validate(repository(fake)), TOKEN)
    assert client is not None
    client.open_pull(head="agent/T1", base="main", title="T1: task T1", body="the work")
    apply(
        plan(ns, "p", review="merged"),
        profile(ns, "pr", "pull-request"),
        task(ns, "a", "T1", plan="p", agentProfile="pr", repository=repository(fake)),
        task(ns, "b", "T2", plan="p", agentProfile="pr", dependsOn=["T1"],
             repository=repository(fake)),
    )
    operators(ns, env={
        **TEST_LIMITS,
        "AGENT_OPERATOR_ALLOWED_REPOSITORY_URLS": "https://forge.example",
        "AGENT_OPERATOR_ALLOWED_FORGE_API_URLS": fake.url,
        "AGENT_OPERATOR_REVIEW_POLL_SECONDS": "1",
        "AGENT_OPERATOR_REVIEW_POLL_MAX_SECONDS": "2",
    })


def phase(ns: str, task_id: str) -> str | None:
    return (tasks_by_id(ns).get(task_id, {}).get("status") or {}).get("phase")


def t2_jobs(ns: str) -> list[str]:
    return [name for name in jobs_by_name(ns) if name.startswith("b-")]


def test_a_dependent_starts_only_after_the_pull_request_is_merged(
    ns: str, fake: FakeForge, operators: Callable[..., Operator]
) -> None:
    start(ns, fake, operators)
    wait_for("T1 awaiting review", lambda: phase(ns, "T1") == "AwaitingReview")
    status = tasks_by_id(ns)["T1"]["status"]
    assert status["result"]["prUrl"] == "https://forge.example/acme/app/pull/1"
    assert status["result"]["prNumber"] == 1
    assert status["review"]["number"] == 1
    wide = kubectl("-n", ns, "get", "atask", "a", "-o", "wide").stdout
    assert "PR" in wide.splitlines()[0] and "https://forge.example/acme/app/pull/1" in wide

    # The operator looks, more than once, and T2 keeps waiting.
    wait_for("two looks at the pull request", lambda: fake.calls("GET", r"/pulls/1$") >= 2)
    assert phase(ns, "T1") == "AwaitingReview"
    assert phase(ns, "T2") == "Blocked" and t2_jobs(ns) == []
    assert condition(tasks_by_id(ns)["T2"], "Ready")["reason"] == "WaitingForDependencies"

    fake.merge(1)
    wait_for("T1 succeeded", lambda: phase(ns, "T1") == "Succeeded", timeout=30)
    wait_for("T2's Job", lambda: t2_jobs(ns) != [], timeout=30)
    t1 = tasks_by_id(ns)["T1"]
    assert t1["status"]["review"]["state"] == "merged"
    assert condition(t1, "Succeeded")["reason"] == "PullRequestMerged"


def test_a_pull_request_closed_unmerged_rejects_the_task_until_a_rerun(
    ns: str, fake: FakeForge, operators: Callable[..., Operator]
) -> None:
    start(ns, fake, operators)
    wait_for("T1 awaiting review", lambda: phase(ns, "T1") == "AwaitingReview")
    fake.close(1)
    wait_for("T1 rejected", lambda: phase(ns, "T1") == "Rejected", timeout=30)
    wait_for(
        "T2 blocked by the rejection",
        lambda: condition(tasks_by_id(ns)["T2"], "Ready").get("reason") == "DependencyFailed",
        timeout=30,
    )
    assert "closed without merge" in tasks_by_id(ns)["T1"]["status"]["message"]
    jobs = sorted(name for name in jobs_by_name(ns) if name.startswith("a-"))
    assert len(jobs) == 1 and t2_jobs(ns) == []

    fake.pulls[1].state = "open"  # as the next attempt's runner reopens it
    kubectl("-n", ns, "patch", "atask", "a", "--type=merge",
            "-p", json.dumps({"spec": {"rerun": "after-review"}}))
    wait_for("a second attempt of T1",
             lambda: len([n for n in jobs_by_name(ns) if n.startswith("a-")]) == 2, timeout=30)
    wait_for("T1 awaiting review again", lambda: phase(ns, "T1") == "AwaitingReview")
    fake.merge(1)
    wait_for("T2's Job", lambda: t2_jobs(ns) != [], timeout=30)
