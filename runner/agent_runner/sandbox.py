"""The runner's side of the workspace executor (agent_runner.executor).

In an attempt pod the executor runs in the `workspace` container and listens on a Unix
socket in a volume shared with the runner ($AGENT_EXECUTOR_SOCKET). Run by hand, without
that variable, the runner starts one itself as a child process, with the credentials taken
out of its environment.

The executor runs whatever the agent runs and the agent may replace it, so its answers are
untrusted input: their size is capped, their shape checked, and a missing or malformed
answer is a tool error for the model, never a crash of the attempt.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from agent_runner import executor

SOCKET_ENV: Final = "AGENT_EXECUTOR_SOCKET"
MAX_ANSWER_BYTES: Final = 4 * 1024 * 1024
ANSWER_GRACE_SECONDS: Final = 30.0  # beyond the request's own timeout
CONNECT_WAIT_SECONDS: Final = 120.0  # for the workspace container to start


_closed: set[Path] = set()  # sockets whose executor was told to shut down


class Unavailable(Exception):
    """The executor did not answer, or not with a JSON object."""


class Client:
    """Sends one request per connection to the executor's socket."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path

    def request(self, payload: Mapping[str, Any], *, timeout: float = 60.0) -> dict[str, Any]:
        """The executor's answer to `payload`; Unavailable on any failure."""
        body = json.dumps(payload, ensure_ascii=True).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(10.0)
                connection.connect(str(self.socket_path))
                connection.sendall(body)
                data = bytearray()
                deadline = time.monotonic() + timeout + ANSWER_GRACE_SECONDS
                while not data.endswith(b"\n"):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        waited = timeout + ANSWER_GRACE_SECONDS
                        raise Unavailable(f"no answer within {waited:.0f} s")
                    connection.settimeout(left)
                    chunk = connection.recv(1 << 20)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) > MAX_ANSWER_BYTES:
                        raise Unavailable(f"its answer is larger than {MAX_ANSWER_BYTES} bytes")
        except OSError as error:
            raise Unavailable(f"{self.socket_path}: {error.strerror or error}") from error
        try:
            answer = json.loads(data.decode("utf-8"))
        except ValueError as error:
            raise Unavailable(f"its answer is not JSON ({error})") from error
        if not isinstance(answer, dict):
            raise Unavailable("its answer is not a JSON object")
        return answer

    def wait_ready(self, seconds: float = CONNECT_WAIT_SECONDS) -> None:
        """Waits until the executor answers a ping; Unavailable when it does not in time."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self.request({"op": "ping"}, timeout=5.0).get("ok") is True:
                    return
            except Unavailable as error:
                if time.monotonic() >= deadline:
                    raise Unavailable(
                        f"the workspace executor did not answer within {seconds:.0f} s: {error}"
                    ) from error
            time.sleep(0.2)

    def close(self) -> None:
        """Ends the agent's processes and the executor (the workspace container exits)."""
        _closed.add(self.socket_path)
        with contextlib.suppress(Unavailable):
            self.request({"op": "shutdown"}, timeout=10.0)


class LocalExecutor(Client):
    """An executor the runner starts itself (no workspace container), in a private
    directory, with the environment it is given."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="agent-executor-")
        super().__init__(Path(self._directory.name) / "executor.sock")
        self._process = subprocess.Popen(
            [sys.executable, "-I", executor.__file__, "--socket", str(self.socket_path),
             "--root", str(root)],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self.wait_ready(30.0)
        except Unavailable:
            self.close()
            raise

    def close(self) -> None:
        super().close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._directory.cleanup()


def connect(root: Path, env: Mapping[str, str], command_env: Mapping[str, str]) -> Client:
    """The pod's executor when $AGENT_EXECUTOR_SOCKET names it, else a local one."""
    path = (env.get(SOCKET_ENV) or "").strip()
    if path:
        client = Client(Path(path))
        client.wait_ready()
        return client
    return LocalExecutor(root, command_env)


def shut_down_pod_executor(env: Mapping[str, str], wait_seconds: float = 60.0) -> None:
    """Tells the pod's executor to exit, if this attempt has not yet (a failure before the
    agent started): otherwise the workspace container would keep the pod running until the
    Job's deadline."""
    path = (env.get(SOCKET_ENV) or "").strip()
    if not path or Path(path) in _closed:
        return
    client = Client(Path(path))
    with contextlib.suppress(Unavailable):
        client.wait_ready(wait_seconds)
    client.close()
