"""A fake forge on 127.0.0.1: the GitHub REST endpoints of pull requests, and GitLab's
merge requests, kept in memory by a threaded http.server.

The code under test talks to it with its real HTTP client (`agent_api.forge`); the test
drives the other side: merges or closes a pull request, adds review comments, or makes
the next answers rate-limited with the headers a forge sends.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "ghp_fake_forge_token"
TIME = "2026-12-04T12:00:00Z"


@dataclasses.dataclass
class Pull:
    number: int
    head: str
    base: str
    title: str
    body: str
    state: str = "open"  # open, closed
    merged_at: str | None = None
    reviews: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    line_comments: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    comments: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Limited:
    """The next `count` answers are this rate-limited one."""

    count: int
    status: int
    headers: dict[str, str]


class FakeForge:
    """GitHub (`/repos/{owner}/{name}/...`) and GitLab (`/projects/{id}/...`) endpoints."""

    def __init__(self, *, token: str | None = TOKEN, branch_exists: Callable[[str], bool] | None = None) -> None:
        self.token = token
        self.branch_exists = branch_exists
        self.pulls: dict[int, Pull] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.limited: Limited | None = None
        self._lock = threading.Lock()
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, headers, payload = forge.handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --------------------------------------------------------------- lifecycle

    def start(self) -> FakeForge:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # --------------------------------------------------------------- the test's side

    def merge(self, number: int) -> None:
        with self._lock:
            self.pulls[number].state = "closed"
            self.pulls[number].merged_at = TIME

    def close(self, number: int) -> None:
        with self._lock:
            self.pulls[number].state = "closed"

    def review(self, number: int, body: str, state: str = "CHANGES_REQUESTED", *,
               user: str = "reviewer", association: str = "MEMBER") -> None:
        with self._lock:
            self.pulls[number].reviews.append({
                "user": {"login": user}, "body": body, "state": state,
                "submitted_at": TIME, "author_association": association,
            })

    def line_comment(self, number: int, path: str, line: int, body: str, *,
                     user: str = "reviewer", association: str = "MEMBER") -> None:
        with self._lock:
            self.pulls[number].line_comments.append({
                "user": {"login": user}, "body": body, "path": path, "line": line,
                "created_at": TIME, "author_association": association,
            })

    def comment(self, number: int, body: str, *, user: str = "reviewer",
                association: str = "MEMBER") -> None:
        with self._lock:
            self.pulls[number].comments.append({
                "user": {"login": user}, "body": body, "created_at": TIME,
                "author_association": association,
            })

    def rate_limit(self, count: int, status: int, headers: dict[str, str]) -> None:
        """The next `count` answers are `status` with these headers."""
        with self._lock:
            self.limited = Limited(count, status, headers)

    def calls(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.requests if m == method and re.search(pattern, p))

    # --------------------------------------------------------------- the server's side

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.requests.append((method, target))
            if self.limited is not None and self.limited.count > 0:
                self.limited.count -= 1
                return self.limited.status, self.limited.headers, {"message": "API rate limit exceeded"}
            auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
            if self.token is not None and auth != f"Bearer {self.token}":
                return 401, {}, {"message": "Bad credentials"}
            parts = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(parts.query))
            path = parts.path  # still quoted: a GitLab project ID is one segment
            if match := re.fullmatch(r"/repos/[^/]+/[^/]+/(.*)", path):
                return self._github(method, match[1], query, body or {})
            if match := re.fullmatch(r"/projects/[^/]+/(.*)", path):
                return self._gitlab(method, match[1], query, body or {})
            return 404, {}, {"message": "Not Found"}

    def _new(self, head: str, base: str, title: str, body: str) -> tuple[int, dict[str, str], Any] | Pull:
        if self.branch_exists is not None and not self.branch_exists(head):
            return 422, {}, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]}
        if any(p.head == head and p.state == "open" for p in self.pulls.values()):
            return 422, {}, {"message": f"A pull request already exists for {head}."}
        pull = Pull(len(self.pulls) + 1, head, base, title, body)
        self.pulls[pull.number] = pull
        return pull

    # GitHub
    def _gh(self, pull: Pull) -> dict[str, Any]:
        return {
            "number": pull.number,
            "html_url": f"{self.url}/acme/app/pull/{pull.number}",
            "state": pull.state,
            "merged": pull.merged_at is not None,
            "merged_at": pull.merged_at,
            "title": pull.title,
            "body": pull.body,
            "head": {"ref": pull.head},
            "base": {"ref": pull.base},
        }

    def _github(self, method: str, rest: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        limit = {"x-ratelimit-remaining": "4999", "x-ratelimit-reset": "0"}
        if rest == "pulls" and method == "GET":
            head = query.get("head", "").partition(":")[2]
            found = [self._gh(p) for p in sorted(self.pulls.values(), key=lambda p: -p.number)
                     if not head or p.head == head]
            return 200, limit, found
        if rest == "pulls" and method == "POST":
            made = self._new(body.get("head", ""), body.get("base", ""), body.get("title", ""), body.get("body", ""))
            return made if isinstance(made, tuple) else (201, limit, self._gh(made))
        match = re.fullmatch(r"(pulls|issues)/(\d+)(/\w+)?", rest)
        if match is None or int(match[2]) not in self.pulls:
            return 404, {}, {"message": "Not Found"}
        pull = self.pulls[int(match[2])]
        sub = match[3]
        if sub is None and method == "GET":
            return 200, limit, self._gh(pull)
        if sub is None and method == "PATCH":
            pull.title = body.get("title", pull.title)
            pull.body = body.get("body", pull.body)
            if body.get("state") == "open":
                if pull.merged_at:
                    return 422, {}, {"message": "merged pull requests cannot be reopened"}
                pull.state = "open"
            return 200, limit, self._gh(pull)
        if match[1] == "pulls" and sub == "/reviews":
            return 200, limit, pull.reviews
        if match[1] == "pulls" and sub == "/comments":
            return 200, limit, pull.line_comments
        if match[1] == "issues" and sub == "/comments":
            return 200, limit, pull.comments
        return 404, {}, {"message": "Not Found"}

    # GitLab
    def _gl(self, pull: Pull) -> dict[str, Any]:
        state = "merged" if pull.merged_at else "opened" if pull.state == "open" else "closed"
        return {
            "iid": pull.number,
            "web_url": f"{self.url}/acme/app/-/merge_requests/{pull.number}",
            "state": state,
            "merged_at": pull.merged_at,
            "title": pull.title,
            "description": pull.body,
            "source_branch": pull.head,
            "target_branch": pull.base,
        }

    def _gitlab(self, method: str, rest: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if rest == "merge_requests" and method == "GET":
            head = query.get("source_branch")
            return 200, {}, [self._gl(p) for p in sorted(self.pulls.values(), key=lambda p: -p.number)
                             if not head or p.head == head]
        if rest == "merge_requests" and method == "POST":
            made = self._new(body.get("source_branch", ""), body.get("target_branch", ""),
                             body.get("title", ""), body.get("description", ""))
            return made if isinstance(made, tuple) else (201, {}, self._gl(made))
        match = re.fullmatch(r"merge_requests/(\d+)(/notes)?", rest)
        if match is None or int(match[1]) not in self.pulls:
            return 404, {}, {"message": "404 Not found"}
        pull = self.pulls[int(match[1])]
        if match[2]:
            notes = [{"author": {"username": c["user"]["login"]}, "body": c["body"], "system": False}
                     for c in pull.reviews + pull.comments]
            notes.insert(0, {"author": {"username": "gitlab"}, "body": "added 1 commit", "system": True})
            return 200, {}, notes
        if method == "GET":
            return 200, {}, self._gl(pull)
        if method == "PUT":
            pull.title = body.get("title", pull.title)
            pull.body = body.get("description", pull.body)
            if body.get("state_event") == "reopen":
                pull.state = "open"
            return 200, {}, self._gl(pull)
        return 404, {}, {"message": "404 Not found"}
