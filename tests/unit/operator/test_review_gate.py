"""Merge gates through the real dispatcher and gatherer: the operator asks the fake forge on
127.0.0.1 (agent_api.forge's real HTTP client) whether a task's pull request is merged,
and its dependents start only then; closed unmerged, the task is Rejected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from agent_api import forge, models
from agent_operator import metrics, scheduling
from agent_operator.scheduling import policy, readiness
from operator_world import World, plan, task

from tests.fakeforge import TOKEN, FakeForge


@pytest.fixture
def fake() -> Iterator[FakeForge]:
    server = FakeForge().start()
    try:
        yield server
    finally:
        server.stop()


def repository(fake: FakeForge) -> dict[str, Any]:
    return {
        "url": "https://git.example/acme/app.git",
        "credentialsSecret": {"name": "git"},
        "forge": {"type": "github", "apiUrl": fake.url, "project": "acme/app"},
    }


def world(fake: FakeForge, review: str = "merged") -> World:
    w = World(
        plan("p", review=review),
        task("a", plan="p", repository=repository(fake)),
        task("b", plan="p", depends_on=["A"], repository=repository(fake)),
    )
    w.cluster.secret_values[("ns", "git", "token")] = TOKEN
    return w


def open_pull(fake: FakeForge, head: str = "agent/A") -> forge.PullRequest:
    """What the runner does after a successful attempt."""
    client = forge.connect(models.Repository.model_validate(repository(fake)), TOKEN)
    assert client is not None
    return client.open_pull(head=head, base="main", title="A: task a", body="did A")


def succeed_with_pull(w: World, fake: FakeForge, job: str = "a-1") -> str:
    """The attempt's end as the runner reports it, its pull request opened (or kept)."""
    url = open_pull(fake).url if not fake.pulls else f"{fake.url}/acme/app/pull/1"
    report = {"status": "succeeded", "summary": "did A", "branch": "agent/A",
              "prUrl": url, "prNumber": 1}
    w.finish_job(job, message=json.dumps(report))
    return url


def counter(outcome: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "agent_operator_pull_requests_total", {"namespace": "ns", "plan": "p", "outcome": outcome}
    )
    return value or 0.0


def test_a_dependent_starts_only_after_the_pull_request_is_merged(fake: FakeForge) -> None:
    w = world(fake)
    w.step()
    assert w.created_jobs == ["a-1"]
    reported, merged = counter("reported"), counter("merged")
    url = succeed_with_pull(w, fake)

    w.step()
    status = w.status("a")
    assert status.phase == "AwaitingReview"
    assert status.result is not None and status.result.pr_url == url
    assert status.result.pr_number == 1
    assert status.review is not None and (status.review.state, status.review.number) == ("open", 1)
    assert f"waiting for pull request #1 to be merged: {url}" in (status.message or "")
    assert w.phase("b") == "Blocked" and w.status("b").blocked_by == ["A"]
    assert counter("reported") == reported + 1

    for _ in range(3):  # the operator looks, finds it open, and waits
        w.advance(60)
        w.step()
    assert w.phase("a") == "AwaitingReview" and w.created_jobs == ["a-1"]
    looks = fake.calls("GET", r"/pulls/1$")
    assert looks >= 2
    assert w.status("a").review.checked_time is not None  # type: ignore[union-attr]

    fake.merge(1)
    w.advance(600)
    w.step()
    status = w.status("a")
    assert status.phase == "Succeeded"
    assert status.review is not None and status.review.state == "merged"
    assert status.review.merged_time == "2026-12-04T12:00:00Z"
    succeeded = next(c for c in status.conditions if c.type == "Succeeded")
    assert (succeeded.status, succeeded.reason) == ("True", "PullRequestMerged")
    assert w.created_jobs == ["a-1", "b-1"]  # in the same pass
    assert counter("merged") == merged + 1


def test_the_looks_back_off_while_nothing_changes(fake: FakeForge) -> None:
    w = world(fake)
    w.step()
    succeed_with_pull(w, fake)
    w.step()
    w.step()  # first look
    assert fake.calls("GET", r"/pulls/1$") == 1
    for _ in range(20):  # 20 s: the first wait is 30 s
        w.advance(1)
        w.step()
    assert fake.calls("GET", r"/pulls/1$") == 1
    w.advance(15)
    w.step()
    assert fake.calls("GET", r"/pulls/1$") == 2
    w.advance(45)  # the wait doubled to 60 s
    w.step()
    assert fake.calls("GET", r"/pulls/1$") == 2
    w.advance(20)
    w.step()
    assert fake.calls("GET", r"/pulls/1$") == 3


def test_a_pull_request_closed_unmerged_rejects_the_task_until_a_rerun(fake: FakeForge) -> None:
    w = world(fake)
    w.step()
    rejected = counter("rejected")
    succeed_with_pull(w, fake)
    w.step()
    fake.close(1)
    w.advance(60)
    w.step()

    status = w.status("a")
    assert status.phase == "Rejected"
    assert status.review is not None and status.review.state == "closed"
    assert "closed without merge" in (status.message or "")
    assert counter("rejected") == rejected + 1
    assert w.phase("b") == "Blocked"
    ready = next(c for c in w.status("b").conditions if c.type == "Ready")
    assert ready.reason == "DependencyFailed"
    assert "pull request of A was closed without merge" in ready.message
    # Not retried by itself.
    for _ in range(3):
        w.advance(3600)
        w.step()
    assert w.phase("a") == "Rejected" and w.created_jobs == ["a-1"]
    assert any(e.reason == "Rejected" and e.type == "Warning" for e in w.events)

    w.edit_spec("AgentTask", "a", rerun="again")
    w.step()
    assert w.phase("a") == "Running" and w.created_jobs == ["a-1", "a-2"]
    assert w.status("a").review is None
    # The runner reopens the same pull request; merged this time, B follows.
    fake.pulls[1].state = "open"
    succeed_with_pull(w, fake, "a-2")
    w.step()
    assert w.phase("a") == "AwaitingReview"
    fake.merge(1)
    w.advance(60)
    w.step()
    assert w.phase("a") == "Succeeded" and "b-1" in w.created_jobs


def test_the_forges_rate_limit_is_waited_out_not_a_failure(fake: FakeForge) -> None:
    w = world(fake)
    w.step()
    succeed_with_pull(w, fake)
    w.step()
    reset = int(w.now.timestamp()) + 300
    fake.rate_limit(1, 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    fake.merge(1)
    w.step()  # the look is answered 403 with the limit used up
    status = w.status("a")
    assert status.phase == "AwaitingReview"
    assert status.review is not None and "rate limit" in (status.review.message or "")
    calls = len(fake.requests)
    for _ in range(5):  # nothing is asked before the reset
        w.advance(50)
        w.step()
    assert len(fake.requests) == calls and w.phase("a") == "AwaitingReview"
    w.advance(60)
    w.step()
    assert w.phase("a") == "Succeeded"
    assert w.status("a").review.message is None  # type: ignore[union-attr]


def test_a_429_with_retry_after_holds_the_looks(fake: FakeForge) -> None:
    w = world(fake)
    w.step()
    succeed_with_pull(w, fake)
    w.step()
    fake.rate_limit(1, 429, {"Retry-After": "120"})
    w.step()
    calls = len(fake.requests)
    w.advance(100)
    w.step()
    assert len(fake.requests) == calls
    fake.merge(1)
    w.advance(30)
    w.step()
    assert w.phase("a") == "Succeeded"


def test_review_none_succeeds_at_once_and_pr_open_needs_a_pull_request(fake: FakeForge) -> None:
    w = world(fake, review="none")
    w.step()
    succeed_with_pull(w, fake)
    w.step()
    assert w.phase("a") == "Succeeded" and "b-1" in w.created_jobs
    assert w.status("a").result.pr_number == 1  # type: ignore[union-attr]

    w = world(fake, review="pr-open")
    w.step()
    w.finish_job("a-1", message=json.dumps({"status": "succeeded", "summary": "did A"}))
    w.step()
    status = w.status("a")
    assert status.phase == "Failed"
    assert status.history[-1].reason == "NoPullRequest"
    assert "reported no pull request" in (status.message or "")


def test_a_task_without_a_forge_is_not_gated() -> None:
    w = World(
        plan("p", review="merged"),
        task("a", plan="p", repository={"url": "https://git.example/acme/app.git"}),
        task("b", plan="p", depends_on=["A"]),
    )
    w.step()
    w.finish_job("a-1", message=json.dumps({"status": "succeeded", "summary": "did A"}))
    w.step()
    assert w.phase("a") == "Succeeded" and "b-1" in w.created_jobs


def test_the_forge_token_is_bound_like_the_git_token() -> None:
    repo = models.Repository(
        url="https://github.com/acme/app.git",
        credentials_secret=models.SecretKeyRef(name="git"),
        forge=models.RepositoryForge(type="github"),
    )
    spec = models.AgentTaskSpec(task_id="T1", title="t", repository=repo)
    uses = readiness.required_secrets("ns", spec, models.AgentPlanSpec())
    forge_use = next(u for u in uses if u.url == "https://api.github.com")
    bound = scheduling.SecretMeta(
        labels={policy.LABEL_AGENT_CREDENTIAL: "true"},
        annotations={policy.ANNOTATION_ALLOWED_HOSTS: "github.com"},
        keys=frozenset({"token"}),
    )
    problem = policy.credential_problem(forge_use, bound)
    assert problem is not None and "not to api.github.com" in problem
    both = scheduling.SecretMeta(
        labels=bound.labels,
        annotations={policy.ANNOTATION_ALLOWED_HOSTS: "github.com,api.github.com"},
        keys=bound.keys,
    )
    assert policy.credential_problem(forge_use, both) is None
    # The forge API must be allowlisted, and a token is needed.
    assert policy.forge_problem(repo, policy.Policy()) is None
    elsewhere = repo.model_copy(
        update={"forge": models.RepositoryForge(type="github", api_url="https://evil.example")}
    )
    assert "allowed_forge_api_urls" in (policy.forge_problem(elsewhere, policy.Policy()) or "")
    anonymous = repo.model_copy(update={"credentials_secret": None})
    assert "needs spec.repository.credentialsSecret" in (
        policy.forge_problem(anonymous, policy.Policy()) or ""
    )


def test_an_unreadable_token_is_shown_not_sent(fake: FakeForge) -> None:
    w = world(fake)
    w.step()
    succeed_with_pull(w, fake)
    w.secrets[("ns", "git")] = scheduling.SecretMeta(labels={}, annotations={}, keys=frozenset())
    w.advance(11)  # past the Secret cache's time to live
    before = len(fake.requests)
    w.step()
    w.step()
    assert len(fake.requests) == before
    review = w.status("a").review
    assert review is not None and "not an agent credential" in (review.message or "")


def test_a_plan_that_stops_waiting_for_merges_lets_its_tasks_succeed(fake: FakeForge) -> None:
    w = world(fake)
    w.step()
    succeed_with_pull(w, fake)
    w.step()
    assert w.phase("a") == "AwaitingReview"
    w.edit_spec("AgentPlan", "p", review="pr-open")
    w.step()
    assert w.phase("a") == "Succeeded" and "b-1" in w.created_jobs
