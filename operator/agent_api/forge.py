"""Pull requests on a forge (GitHub, GitLab), behind one small interface.

The runner opens or updates the pull request of a task's agent branch and reads its review
comments; the operator reads whether it was merged or closed. Both use this module, so
both speak to the forge the same way: standard-library HTTP, the token in a header, and
the forge's rate limits waited out (403/429 with `Retry-After`, `x-ratelimit-reset` or
`RateLimit-Reset`) rather than taken for failures. How long a caller may wait is its own
budget; past it the call raises `RateLimited` with the moment the forge allows again.

A repository names its forge in `spec.repository.forge`; the API URL and the project
come from the repository URL unless the forge sets them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, Protocol

from agent_api import models

PullState = Literal["open", "closed", "merged"]
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_RATE_LIMIT_WAIT_SECONDS: Final = 60.0  # when a limited answer says not how long
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
PAGE_SIZE: Final = 100
USER_AGENT: Final = "agent-orchestrator"


@dataclasses.dataclass(frozen=True)
class PullRequest:
    """A pull (or merge) request as the forge reports it."""

    number: int
    url: str  # its web page
    state: PullState
    head: str
    base: str
    merged_at: str | None = None


@dataclasses.dataclass(frozen=True)
class Comment:
    """A review, a line comment or a conversation comment on a pull request."""

    author: str
    body: str
    path: str | None = None  # a line comment's file
    line: int | None = None
    verdict: str | None = None  # a review's: APPROVED, CHANGES_REQUESTED, COMMENTED
    # Whether the author may write to the repository (GitHub's author_association OWNER,
    # MEMBER or COLLABORATOR); anyone may comment on a public repository's pull request.
    trusted: bool = True


class ForgeError(Exception):
    """The forge refused or failed a call (not a rate limit)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(ForgeError):
    """The forge's rate limit holds longer than the caller may wait."""

    def __init__(self, message: str, retry_at: float) -> None:
        super().__init__(message, 429)
        self.retry_at = retry_at  # epoch seconds


class Forge(Protocol):
    """What the runner and the operator ask of a forge."""

    kind: str

    def pulls(self, head: str) -> list[PullRequest]:
        """The pull requests from branch `head`, newest first, in any state."""
        ...

    def open_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def update_pull(
        self, number: int, *, title: str, body: str, reopen: bool = False
    ) -> PullRequest: ...

    def get_pull(self, number: int) -> PullRequest: ...

    def comments(self, number: int) -> list[Comment]:
        """Reviews, line comments and conversation comments, oldest first."""
        ...


# --------------------------------------------------------------------------- HTTP

Opener = Callable[[urllib.request.Request, float], Any]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would carry the token to another URL, maybe
    another host than the ones the credential is bound to."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def _urlopen(request: urllib.request.Request, timeout: float) -> Any:
    return _OPENER.open(request, timeout=timeout)  # the scheme is checked: http(s)


@dataclasses.dataclass
class Http:
    """JSON over HTTP(S) to one API root, waiting out rate limits within a budget."""

    base_url: str
    headers: Mapping[str, str]
    max_wait_seconds: float = 300.0  # total sleep on rate limits per call
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    opener: Opener = _urlopen
    not_before: float = 0.0  # a limit reported as used up holds calls until then

    def __post_init__(self) -> None:
        scheme = urllib.parse.urlsplit(self.base_url).scheme
        if scheme not in ("https", "http"):
            raise ForgeError(f"the forge API URL {self.base_url!r} is not http(s)")

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        url = self.base_url.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        waited = 0.0
        while True:
            pause = self.not_before - self.clock()
            if pause > 0:
                waited = self._wait(pause, waited, f"{method} {path}")
            status, headers, payload = self._send(method, url, data)
            limit_wait = rate_limit_wait(status, headers, self.clock())
            if limit_wait is not None:
                waited = self._wait(limit_wait, waited, f"{method} {path} ({status})")
                continue
            self._remember_limit(headers)
            if status >= 300:  # redirects included: they are not followed
                raise ForgeError(
                    f"{method} {path} answered {status}: {_message(payload)}", status
                )
            if not payload:
                return None
            try:
                return json.loads(payload)
            except ValueError as error:
                raise ForgeError(f"{method} {path} answered no JSON", status) from error

    def _wait(self, seconds: float, waited: float, what: str) -> float:
        seconds = max(1.0, seconds)
        if waited + seconds > self.max_wait_seconds:
            raise RateLimited(
                f"{what}: the forge's rate limit holds for {seconds:.0f} s more",
                self.clock() + seconds,
            )
        self.sleep(seconds)
        return waited + seconds

    def _remember_limit(self, headers: Mapping[str, str]) -> None:
        remaining = _header(headers, "x-ratelimit-remaining", "ratelimit-remaining")
        reset = _header(headers, "x-ratelimit-reset", "ratelimit-reset")
        if remaining == "0" and reset is not None:
            with contextlib.suppress(ValueError):
                self.not_before = float(reset)

    def _send(self, method: str, url: str, data: bytes | None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url, data=data, method=method)
        for name, value in self.headers.items():
            request.add_header(name, value)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            response = self.opener(request, self.timeout_seconds)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _lower(error.headers), error.read(MAX_BODY_BYTES)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise ForgeError(
                f"{method} {_without_query(url)} could not reach the forge: {reason}"
            ) from error
        with response:
            return response.status, _lower(response.headers), response.read(MAX_BODY_BYTES)


def rate_limit_wait(status: int, headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait when an answer is the forge's rate limit, else None.

    GitHub answers 403 or 429 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`
    (epoch seconds), or with `Retry-After` for its secondary limits; GitLab answers 429
    with `Retry-After` or `RateLimit-Reset`. A 403 without those headers is a refusal."""
    if status not in (403, 429):
        return None
    retry_after = _header(headers, "retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    remaining = _header(headers, "x-ratelimit-remaining", "ratelimit-remaining")
    reset = _header(headers, "x-ratelimit-reset", "ratelimit-reset")
    if reset is not None and (remaining == "0" or status == 429):
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            pass
    if status == 429 or remaining == "0":
        return DEFAULT_RATE_LIMIT_WAIT_SECONDS
    return None


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers.items() if headers else [])}


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload[:300].decode(errors="replace").strip() or "no body"
    if isinstance(data, dict):
        text = str(data.get("message") or data.get("error") or data)
        errors = data.get("errors")
        if errors:
            text += f" ({json.dumps(errors)[:300]})"
        return text[:600]
    return str(data)[:300]


# --------------------------------------------------------------------------- GitHub


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


TRUSTED_ASSOCIATIONS: Final = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})


def _trusted(item: Mapping[str, Any]) -> bool:
    return item.get("author_association") in TRUSTED_ASSOCIATIONS


def _login(item: Mapping[str, Any], key: str = "user", name: str = "login") -> str:
    user = item.get(key)
    return _text(user.get(name)) if isinstance(user, dict) else ""


@dataclasses.dataclass
class GitHub:
    """The GitHub REST API (github.com or GitHub Enterprise Server)."""

    http: Http
    project: str  # owner/name
    kind: str = "github"

    def _path(self, suffix: str) -> str:
        owner, _, name = self.project.partition("/")
        quoted = "/".join(urllib.parse.quote(part, safe="") for part in (owner, name))
        return f"/repos/{quoted}{suffix}"

    @staticmethod
    def _pull(data: Any) -> PullRequest:
        if not isinstance(data, dict) or not isinstance(data.get("number"), int):
            raise ForgeError("the forge answered something that is not a pull request")
        merged_at = data.get("merged_at") or None
        state: PullState = (
            "merged" if merged_at or data.get("merged") is True
            else "open" if data.get("state") == "open" else "closed"
        )
        head, base = data.get("head") or {}, data.get("base") or {}
        return PullRequest(
            number=data["number"],
            url=_text(data.get("html_url")),
            state=state,
            head=_text(head.get("ref")) if isinstance(head, dict) else "",
            base=_text(base.get("ref")) if isinstance(base, dict) else "",
            merged_at=merged_at if isinstance(merged_at, str) else None,
        )

    def pulls(self, head: str) -> list[PullRequest]:
        owner = self.project.partition("/")[0]
        found = self.http.request(
            "GET",
            self._path("/pulls"),
            query={"head": f"{owner}:{head}", "state": "all", "per_page": PAGE_SIZE},
        )
        pulls = [self._pull(p) for p in found or [] if isinstance(p, dict)]
        return sorted((p for p in pulls if p.head in ("", head)), key=lambda p: -p.number)

    def open_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        return self._pull(
            self.http.request(
                "POST",
                self._path("/pulls"),
                body={"title": title, "head": head, "base": base, "body": body},
            )
        )

    def update_pull(
        self, number: int, *, title: str, body: str, reopen: bool = False
    ) -> PullRequest:
        change: dict[str, Any] = {"title": title, "body": body}
        if reopen:
            change["state"] = "open"
        return self._pull(self.http.request("PATCH", self._path(f"/pulls/{number}"), body=change))

    def get_pull(self, number: int) -> PullRequest:
        return self._pull(self.http.request("GET", self._path(f"/pulls/{number}")))

    def _list(self, suffix: str) -> list[dict[str, Any]]:
        found = self.http.request("GET", self._path(suffix), query={"per_page": PAGE_SIZE})
        return [item for item in found or [] if isinstance(item, dict)]

    def comments(self, number: int) -> list[Comment]:
        timed: list[tuple[str, Comment]] = []
        for review in self._list(f"/pulls/{number}/reviews"):
            verdict = _text(review.get("state")) or None
            if _text(review.get("body")).strip() or verdict == "CHANGES_REQUESTED":
                comment = Comment(
                    _login(review), _text(review.get("body")), verdict=verdict,
                    trusted=_trusted(review),
                )
                timed.append((_text(review.get("submitted_at")), comment))
        for note in self._list(f"/pulls/{number}/comments"):
            line = note.get("line") or note.get("original_line")
            comment = Comment(
                _login(note), _text(note.get("body")), path=_text(note.get("path")) or None,
                line=line if isinstance(line, int) else None, trusted=_trusted(note),
            )
            timed.append((_text(note.get("created_at")), comment))
        for note in self._list(f"/issues/{number}/comments"):
            comment = Comment(_login(note), _text(note.get("body")), trusted=_trusted(note))
            timed.append((_text(note.get("created_at")), comment))
        return [c for _, c in sorted(timed, key=lambda t: t[0])]


# --------------------------------------------------------------------------- GitLab


@dataclasses.dataclass
class GitLab:
    """The GitLab REST API (v4): merge requests."""

    http: Http
    project: str  # group/name, URL-encoded into the path
    kind: str = "gitlab"

    def _path(self, suffix: str) -> str:
        return f"/projects/{urllib.parse.quote(self.project, safe='')}{suffix}"

    @staticmethod
    def _pull(data: Any) -> PullRequest:
        if not isinstance(data, dict) or not isinstance(data.get("iid"), int):
            raise ForgeError("the forge answered something that is not a merge request")
        raw = data.get("state")
        state: PullState = "merged" if raw == "merged" else "open" if raw == "opened" else "closed"
        merged_at = data.get("merged_at")
        return PullRequest(
            number=data["iid"],
            url=_text(data.get("web_url")),
            state=state,
            head=_text(data.get("source_branch")),
            base=_text(data.get("target_branch")),
            merged_at=merged_at if isinstance(merged_at, str) else None,
        )

    def pulls(self, head: str) -> list[PullRequest]:
        found = self.http.request(
            "GET",
            self._path("/merge_requests"),
            query={"source_branch": head, "state": "all", "per_page": PAGE_SIZE},
        )
        pulls = [self._pull(p) for p in found or [] if isinstance(p, dict)]
        return sorted((p for p in pulls if p.head == head), key=lambda p: -p.number)

    def open_pull(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        return self._pull(
            self.http.request(
                "POST",
                self._path("/merge_requests"),
                body={"source_branch": head, "target_branch": base, "title": title,
                      "description": body},
            )
        )

    def update_pull(
        self, number: int, *, title: str, body: str, reopen: bool = False
    ) -> PullRequest:
        change: dict[str, Any] = {"title": title, "description": body}
        if reopen:
            change["state_event"] = "reopen"
        return self._pull(
            self.http.request("PUT", self._path(f"/merge_requests/{number}"), body=change)
        )

    def get_pull(self, number: int) -> PullRequest:
        return self._pull(self.http.request("GET", self._path(f"/merge_requests/{number}")))

    def comments(self, number: int) -> list[Comment]:
        notes = self.http.request(
            "GET",
            self._path(f"/merge_requests/{number}/notes"),
            query={"sort": "asc", "order_by": "created_at", "per_page": PAGE_SIZE},
        )
        found = []
        for note in notes or []:
            if not isinstance(note, dict) or note.get("system"):
                continue
            raw = note.get("position")
            position: dict[str, Any] = raw if isinstance(raw, dict) else {}
            line = position.get("new_line")
            found.append(
                Comment(
                    _login(note, "author", "username"),
                    _text(note.get("body")),
                    path=_text(position.get("new_path")) or None,
                    line=line if isinstance(line, int) else None,
                )
            )
        return found


# --------------------------------------------------------------------------- from the spec


def api_url(repository: models.Repository) -> str | None:
    """The forge API root of a repository that names a forge: `forge.apiUrl`, else
    https://api.github.com for github.com, <scheme>://<host>/api/v3 for other GitHub
    hosts, <scheme>://<host>/api/v4 for GitLab. None without a forge."""
    forge = repository.forge
    if forge is None:
        return None
    if forge.api_url:
        return forge.api_url.rstrip("/")
    parts = urllib.parse.urlsplit(repository.url)
    scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    if forge.type == "gitlab":
        return f"{scheme}://{netloc}/api/v4"
    if host.lower() == "github.com":
        return "https://api.github.com"
    return f"{scheme}://{netloc}/api/v3"


def project(repository: models.Repository) -> str:
    """`forge.project`, else the repository URL's path without `.git`."""
    forge = repository.forge
    if forge is not None and forge.project:
        return forge.project.strip("/")
    path = urllib.parse.urlsplit(repository.url).path.strip("/")
    return path[:-4] if path.endswith(".git") else path


def auth_headers(kind: str, token: str | None) -> dict[str, str]:
    if not token:
        return {}
    if kind == "github":
        return {"Authorization": f"Bearer {token}", "X-GitHub-Api-Version": "2022-11-28"}
    return {"Authorization": f"Bearer {token}"}


def connect(
    repository: models.Repository,
    token: str | None,
    *,
    max_wait_seconds: float = 300.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Forge | None:
    """The forge client of a repository that names a forge; None otherwise."""
    base = api_url(repository)
    if base is None or repository.forge is None:
        return None
    kind = repository.forge.type
    http = Http(
        base,
        auth_headers(kind, token),
        max_wait_seconds=max_wait_seconds,
        timeout_seconds=timeout_seconds,
        clock=clock,
        sleep=sleep,
    )
    if kind == "gitlab":
        return GitLab(http, project(repository))
    return GitHub(http, project(repository))
