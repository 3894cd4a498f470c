"""agent_api.forge against the fake forge on 127.0.0.1: the real HTTP client, GitHub's
and GitLab's endpoints, and rate limits waited out with an injected clock and sleep."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agent_api import forge, models

from tests.fakeforge import TOKEN, FakeForge


@pytest.fixture
def fake() -> Iterator[FakeForge]:
    server = FakeForge().start()
    try:
        yield server
    finally:
        server.stop()


class Clock:
    """A clock that moves only when the client sleeps."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def repository(fake: FakeForge, kind: str = "github") -> models.Repository:
    return models.Repository(
        url="https://git.example/acme/app.git",
        forge=models.RepositoryForge(type=kind, api_url=fake.url),  # type: ignore[arg-type]
    )


def client(fake: FakeForge, clock: Clock, kind: str = "github", wait: float = 300.0) -> forge.Forge:
    made = forge.connect(
        repository(fake, kind), TOKEN, max_wait_seconds=wait, clock=clock, sleep=clock.sleep
    )
    assert made is not None
    return made


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_open_find_update_reopen_and_read_comments(fake: FakeForge, kind: str) -> None:
    gh = client(fake, Clock(), kind)
    opened = gh.open_pull(head="agent/T1", base="main", title="T1: x", body="first")
    assert (opened.number, opened.state, opened.head, opened.base) == (1, "open", "agent/T1", "main")
    assert opened.url.endswith("/1")
    assert [p.number for p in gh.pulls("agent/T1")] == [1]
    assert gh.pulls("agent/T2") == []

    updated = gh.update_pull(1, title="T1: y", body="second")
    assert fake.pulls[1].body == "second" and updated.state == "open"
    fake.review(1, "needs tests")
    fake.comment(1, "and docs")
    assert [c.body for c in gh.comments(1)] == ["needs tests", "and docs"]

    fake.close(1)
    assert gh.get_pull(1).state == "closed"
    assert gh.update_pull(1, title="T1", body="again", reopen=True).state == "open"
    fake.merge(1)
    merged = gh.get_pull(1)
    assert merged.state == "merged" and merged.merged_at


def test_github_comments_say_who_may_be_trusted(fake: FakeForge) -> None:
    gh = client(fake, Clock())
    gh.open_pull(head="agent/T1", base="main", title="t", body="b")
    fake.review(1, "fix it", association="COLLABORATOR")
    fake.line_comment(1, "a.py", 3, "here")
    fake.comment(1, "spam", association="NONE")
    found = gh.comments(1)
    assert [(c.body, c.trusted, c.path, c.line, c.verdict) for c in found] == [
        ("fix it", True, None, None, "CHANGES_REQUESTED"),
        ("here", True, "a.py", 3, None),
        ("spam", False, None, None, None),
    ]


def test_the_token_is_sent_as_a_bearer_header(fake: FakeForge) -> None:
    fake.token = "other"
    with pytest.raises(forge.ForgeError) as refused:
        client(fake, Clock()).pulls("agent/T1")
    assert refused.value.status == 401 and not isinstance(refused.value, forge.RateLimited)


def test_a_429_with_retry_after_is_waited_out(fake: FakeForge) -> None:
    clock = Clock()
    fake.rate_limit(2, 429, {"Retry-After": "7"})
    assert client(fake, clock).pulls("agent/T1") == []
    assert clock.slept == [7.0, 7.0]


def test_a_403_with_the_limit_used_up_waits_until_the_reset(fake: FakeForge) -> None:
    clock = Clock()
    reset = int(clock.now) + 42
    fake.rate_limit(
        1, 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    )
    assert client(fake, clock).pulls("agent/T1") == []
    assert clock.slept == [42.0]


def test_gitlab_ratelimit_reset_is_honoured(fake: FakeForge) -> None:
    clock = Clock()
    fake.rate_limit(1, 429, {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(clock.now) + 5)})
    assert client(fake, clock, "gitlab").pulls("agent/T1") == []
    assert clock.slept == [5.0]


def test_a_plain_403_is_a_refusal_not_a_rate_limit(fake: FakeForge) -> None:
    clock = Clock()
    fake.rate_limit(1, 403, {})
    with pytest.raises(forge.ForgeError) as refused:
        client(fake, clock).pulls("agent/T1")
    assert refused.value.status == 403 and not isinstance(refused.value, forge.RateLimited)
    assert clock.slept == []


def test_a_limit_longer_than_the_budget_says_when_to_come_back(fake: FakeForge) -> None:
    clock = Clock()
    fake.rate_limit(1, 429, {"Retry-After": "600"})
    with pytest.raises(forge.RateLimited) as limited:
        client(fake, clock, wait=0).pulls("agent/T1")
    assert limited.value.retry_at == clock.now + 600
    assert clock.slept == []


def test_a_used_up_limit_on_a_success_holds_the_next_call() -> None:
    clock = Clock()
    answers = [
        (200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(clock.now) + 9)}),
        (200, {}),
    ]

    class Response:
        def __init__(self, status: int, headers: dict[str, str]) -> None:
            self.status, self.headers = status, headers

        def read(self, limit: int) -> bytes:
            return b"[]"

        def __enter__(self) -> Response:
            return self

        def __exit__(self, *args: object) -> None:
            pass

    http = forge.Http(
        "https://api.github.com", {}, clock=clock, sleep=clock.sleep,
        opener=lambda request, timeout: Response(*answers.pop(0)),
    )
    http.request("GET", "/a")
    assert clock.slept == []
    http.request("GET", "/b")
    assert clock.slept == [9.0]


@pytest.mark.parametrize(
    ("url", "kind", "api", "project"),
    [
        ("https://github.com/acme/app.git", "github", "https://api.github.com", "acme/app"),
        ("https://ghe.example/acme/app", "github", "https://ghe.example/api/v3", "acme/app"),
        ("https://gitlab.com/g/sub/app.git", "gitlab", "https://gitlab.com/api/v4", "g/sub/app"),
        ("http://127.0.0.1:8080/acme/app.git", "gitlab", "http://127.0.0.1:8080/api/v4", "acme/app"),
    ],
)
def test_the_api_url_and_project_come_from_the_repository_url(
    url: str, kind: str, api: str, project: str
) -> None:
    repo = models.Repository(url=url, forge=models.RepositoryForge(type=kind))  # type: ignore[arg-type]
    assert forge.api_url(repo) == api
    assert forge.project(repo) == project
    assert forge.api_url(models.Repository(url=url)) is None


def test_a_redirect_is_not_followed_with_the_token(fake: FakeForge) -> None:
    fake.rate_limit(1, 301, {"Location": "http://127.0.0.2:9/elsewhere"})
    with pytest.raises(forge.ForgeError) as refused:
        client(fake, Clock()).pulls("agent/T1")
    assert refused.value.status == 301
    assert len(fake.requests) == 1
