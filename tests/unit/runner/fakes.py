"""Test doubles and builders for the runner's tests: the fake Messages API server,
scripted replies in the API's wire format, bare git remotes and AgentTask inputs."""

from __future__ import annotations

import json
import subprocess
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_KEY = "sk-ant-api03-TESTKEY-0123456789abcdefghijklmnop"
GIT_TOKEN = "ghp_TESTTOKEN0123456789abcdefghijklmnopq"


# --------------------------------------------------------------------------- replies


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, tool_input: dict[str, Any], tool_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": tool_id or f"toolu_{name}_{abs(hash(json.dumps(tool_input))) % 10**8}",
        "name": name,
        "input": tool_input,
    }


def message(
    *blocks: dict[str, Any],
    stop_reason: str | None = None,
    input_tokens: int = 100,
    output_tokens: int = 50,
) -> dict[str, Any]:
    """A Messages API response body."""
    if stop_reason is None:
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": list(blocks),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def api_error(kind: str, text_: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text_}}


@dataclass
class Reply:
    """One scripted HTTP answer."""

    body: dict[str, Any] | bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (slow responses)


def ok(*blocks: dict[str, Any], **usage: int) -> Reply:
    return Reply(message(*blocks, **usage))  # type: ignore[arg-type]


def report_call(summary: str = "done", status: str = "completed", **extra: Any) -> Reply:
    return ok(tool_use("report", {"summary": summary, "status": status, **extra}))


# --------------------------------------------------------------------------- server


class FakeMessagesAPI:
    """Answers POST /v1/messages from a script; records every request."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.then: Reply | None = None  # answer once the script is used up
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                with api._lock:
                    api.requests.append(json.loads(raw or b"{}"))
                    api.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if api.script:
                        reply = api.script.popleft()
                    elif api.then is not None:
                        reply = api.then
                    else:
                        reply = Reply(api_error("api_error", "test script exhausted"), 500)
                if reply.delay and api._stopping.wait(reply.delay):
                    return
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(
                    reply.body
                ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- git


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Remote:
    """A bare repository served by file:// URL, with one commit on main."""

    path: Path

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def show(self, ref: str, file: str) -> str:
        return git(self.path, "show", f"{ref}:{file}")

    def rev(self, ref: str) -> str:
        return git(self.path, "rev-parse", ref)

    def branches(self) -> list[str]:
        out = git(self.path, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return out.splitlines()


# --------------------------------------------------------------------------- tasks


def agent_task(
    task_id: str = "T001.001",
    *,
    title: str = "Fix the add function",
    description: str = "calc.add subtracts; make it add and test it.",
    repository: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An AgentTask as `kubectl get agenttask -o json` prints it (plus context)."""
    body: dict[str, Any] = {
        "apiVersion": "orchestration.coditect.ai/v1alpha1",
        "kind": "AgentTask",
        "metadata": {
            "name": task_id.lower().replace(".", "-"),
            "namespace": "team",
            "uid": "8d4c3f2e-0000-4000-8000-000000000001",
            "resourceVersion": "42",
            "generation": 1,
            "creationTimestamp": "2026-11-24T00:00:00Z",
        },
        "spec": {
            "taskId": task_id,
            "title": title,
            "description": description,
            "priority": "P1",
            **spec,
        },
        "status": {"phase": "Running", "attempts": 1},
    }
    if repository is not None:
        body["spec"]["repository"] = repository
    if context is not None:
        body["context"] = context
    return body
