"""The workspace executor: runs the agent's commands and file tools where no credential is.

In an attempt pod it is the main process of the `workspace` container, whose image may be
any image with python3 (a profile's `spec.workspaceImage`): this file uses the standard
library only, and runs as a single file (`python3 executor.py --socket S --root DIR`) or as
`python3 -m agent_runner.executor`. The runner, in the other container, holds the API key
and the git token; it sends each tool call here over a Unix socket on a volume the two
containers share, one JSON request and one JSON answer per connection.

What it guarantees the runner:
- a command's output is read as it comes and only its head and tail are kept, so no
  amount of output costs more than a few hundred KiB of memory;
- a command that runs past its timeout has its process group killed, and a child that
  keeps the output pipe open (`setsid`, a daemon) delays the answer by at most a short
  grace period;
- every failure of a tool is an answer (`is_error`), never a crash of the executor;
- as PID 1 it reaps orphaned children, and restarts the server if a command kills it.

Nothing here is trusted by the runner: the agent runs as the same user and may replace this
process. The runner caps the size of every answer and keeps all secrets on its side.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PROTOCOL = 1
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # write_file contents included
DEFAULT_HEAD_BYTES = 16 * 1024
DEFAULT_TAIL_BYTES = 64 * 1024
MAX_KEPT_BYTES = 1024 * 1024  # of one command's output, head and tail together
PIPE_GRACE_SECONDS = 2.0  # reading on after the shell ended, for its children's last words
READ_CHUNK = 1024 * 1024
MAX_READ_CHARS = 100_000
MAX_LIST_ENTRIES = 1000
LIST_SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", ".tox"})
FATAL_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT})


_UNDER_INIT = False  # this process is the server child of become_init (a container's PID 1)


class ToolInputError(Exception):
    """A mistake in the model's input: reported back to it."""


# --------------------------------------------------------------------------- commands


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _Output:
    """The head and the tail of a stream, and how many bytes it had."""

    def __init__(self, head: int, tail: int) -> None:
        self.head_limit = head
        self.tail_limit = tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data and self.tail_limit > 0:
            self.tail += data[-self.tail_limit :]
            if len(self.tail) > 2 * self.tail_limit:
                del self.tail[: -self.tail_limit]

    def text(self) -> str:
        tail = bytes(self.tail[-self.tail_limit :]) if self.tail_limit else b""
        cut = self.total - len(self.head) - len(tail)
        head = self.head.decode("utf-8", errors="replace")
        end = tail.decode("utf-8", errors="replace")
        if cut > 0:
            return f"{head}\n… [{cut} bytes cut] …\n{end}"
        return head + end


def run_command(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    head_bytes: int = DEFAULT_HEAD_BYTES,
    tail_bytes: int = DEFAULT_TAIL_BYTES,
    grace: float = PIPE_GRACE_SECONDS,
    started_group: Callable[[int], None] = lambda pid: None,
) -> dict[str, Any]:
    """Runs `bash -c command` in its own session; its output streamed, head and tail kept."""
    head_bytes = max(0, min(head_bytes, MAX_KEPT_BYTES // 2))
    tail_bytes = max(0, min(tail_bytes, MAX_KEPT_BYTES // 2))
    started = time.monotonic()
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
        )
    except OSError as error:
        os.close(read_fd)
        os.close(write_fd)
        return {"error": f"cannot start bash in {cwd}: {error.strerror or error}"}
    finally:
        with contextlib.suppress(OSError):
            os.close(write_fd)
    started_group(process.pid)
    output = _Output(head_bytes, tail_bytes)
    deadline = started + max(0.0, timeout)
    timed_out = False
    exit_code: int | None = None
    ended_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if ended_at is None:
                code = process.poll()
                if code is not None:
                    exit_code = code
                    ended_at = now
            if ended_at is not None and now - ended_at >= grace:
                break  # a child holds the pipe: stop listening
            if ended_at is None and now >= deadline:
                timed_out = True
                _kill_group(process.pid)
                process.wait()
                ended_at = time.monotonic()
                continue
            wait = 0.05 if ended_at is None else max(0.0, grace - (now - ended_at))
            if ended_at is None:
                wait = min(0.2, max(0.0, deadline - now))
            ready, _, _ = select.select([read_fd], [], [], wait)
            if ready:
                data = os.read(read_fd, READ_CHUNK)
                if not data:
                    if ended_at is None:
                        exit_code = process.wait(timeout=max(0.0, deadline - time.monotonic()))
                        ended_at = time.monotonic()
                    break
                output.add(data)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process.pid)
        process.wait()
    except BaseException:
        _kill_group(process.pid)
        with contextlib.suppress(Exception):
            process.wait(timeout=5)
        raise
    finally:
        os.close(read_fd)
    if timed_out:
        exit_code = None
    return {
        "exit_code": exit_code,
        "timed_out": timed_out,
        "output": output.text(),
        "total_bytes": output.total,
        "seconds": round(time.monotonic() - started, 3),
    }


def command_environment(base: Mapping[str, str], root: Path) -> dict[str, str]:
    """The agent's commands' environment: the executor's own, plus git's settings for a
    workspace owned by another uid and without a terminal."""
    env = {k: v for k, v in base.items() if not k.startswith("GIT_CONFIG")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.update(
        {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
         "GIT_CONFIG_VALUE_0": str(root)}
    )
    return env


# --------------------------------------------------------------------------- file tools


class Files:
    """The file tools, confined to the workspace root."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, path: object, *, default: str | None = None) -> Path:
        if path is None and default is not None:
            path = default
        if not isinstance(path, str) or not path.strip():
            raise ToolInputError("'path' must be a non-empty string")
        if "\0" in path:
            raise ToolInputError("'path' must not contain a NUL character")
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        resolved = candidate.resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise ToolInputError(f"{path} is outside the workspace; use paths inside it")
        return resolved

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."

    def writable(self, path: object) -> Path:
        resolved = self.resolve(path)
        if ".git" in resolved.relative_to(self.root).parts:
            raise ToolInputError("files under .git are managed by the runner; leave them")
        return resolved

    def read_file(self, tool_input: Mapping[str, Any]) -> str:
        path = self.resolve(tool_input.get("path"))
        if not path.is_file():
            raise ToolInputError(f"{self.relative(path)} is not a file")
        with path.open("rb") as handle:
            data = handle.read(64 * MAX_READ_CHARS)
        lines = data.decode("utf-8", errors="replace").splitlines()
        offset = tool_input.get("offset")
        limit = tool_input.get("limit")
        start = max(1, offset) if isinstance(offset, int) else 1
        end = start - 1 + limit if isinstance(limit, int) and limit > 0 else len(lines)
        numbered = "\n".join(
            f"{number:6}\t{line}" for number, line in enumerate(lines[start - 1 : end], start)
        )
        if not numbered:
            return f"({self.relative(path)} has {len(lines)} lines; none in that range)"
        return truncate_middle(numbered, MAX_READ_CHARS)

    def write_file(self, tool_input: Mapping[str, Any]) -> str:
        path = self.writable(tool_input.get("path"))
        content = tool_input.get("content")
        if not isinstance(content, str):
            raise ToolInputError("'content' must be a string")
        if path.is_dir():
            raise ToolInputError(f"{self.relative(path)} is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8", errors="surrogatepass")
        path.write_bytes(data)
        return f"wrote {self.relative(path)} ({len(data)} bytes)"

    def edit_file(self, tool_input: Mapping[str, Any]) -> str:
        path = self.writable(tool_input.get("path"))
        old = tool_input.get("old_text")
        new = tool_input.get("new_text")
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise ToolInputError("'old_text' (non-empty) and 'new_text' must be strings")
        if not path.is_file():
            raise ToolInputError(f"{self.relative(path)} is not a file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ToolInputError(
                f"{self.relative(path)} is not UTF-8 text; edit it with a command instead"
            ) from None
        count = text.count(old)
        if count == 0:
            raise ToolInputError(f"old_text does not occur in {self.relative(path)}")
        if count > 1 and tool_input.get("replace_all") is not True:
            raise ToolInputError(
                f"old_text occurs {count} times in {self.relative(path)}; add context "
                "to make it unique or set replace_all"
            )
        path.write_text(text.replace(old, new), encoding="utf-8")
        return f"edited {self.relative(path)} ({count} replacement{'s' if count > 1 else ''})"

    def list_files(self, tool_input: Mapping[str, Any]) -> str:
        base = self.resolve(tool_input.get("path"), default=".")
        if not base.is_dir():
            raise ToolInputError(f"{self.relative(base)} is not a directory")
        recursive = tool_input.get("recursive", True) is not False
        entries: list[str] = []
        total = 0
        for directory, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in LIST_SKIP_DIRS)
            here = Path(directory)
            names = [f"{d}/" for d in dirnames] if not recursive else []
            names += sorted(filenames)
            for name in names:
                total += 1
                if len(entries) < MAX_LIST_ENTRIES:
                    suffix = "/" if name.endswith("/") else ""
                    entries.append(self.relative(here / name.rstrip("/")) + suffix)
            if not recursive:
                break
        entries.sort()
        if total > len(entries):
            entries.append(f"… and {total - len(entries)} more")
        return "\n".join(entries) if entries else "(empty)"


def truncate_middle(text: str, limit: int) -> str:
    """Keep the start and (the larger share of) the end: errors tend to come last."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n… [{cut} characters cut] …\n{text[-tail:]}"


# --------------------------------------------------------------------------- processes


def kill_all(keep: frozenset[int] = frozenset()) -> int:
    """SIGKILL every process this user may signal in this PID namespace but PID 1, this
    one and `keep`; how many were signalled. In the workspace container these are the
    agent's commands and whatever they left running."""
    mine = {1, os.getpid(), *keep}
    killed = 0
    for _ in range(3):  # a fork racing the first sweep is caught by the next
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in mine:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)
                found += 1
        killed += found
        if not found:
            break
        time.sleep(0.05)
    return killed


def become_init(main: Callable[[], int], *, respawn: bool = False) -> int:
    """Runs `main` in a child when this process is PID 1 and stays PID 1 itself: it reaps
    every orphan the container's processes leave, passes SIGTERM and SIGINT on, and exits
    with the child's status. With `respawn`, a child that dies of a signal it did not get
    from here (a command killed the server) is started again."""
    if os.getpid() != 1:
        return main()
    stopping = False
    child = 0

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        child = os.fork()
        if child == 0:  # pragma: no cover - the child process
            global _UNDER_INIT
            _UNDER_INIT = True
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 70
            try:
                code = main()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        status = 0
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid == child:
                break
        if respawn and not stopping and os.WIFSIGNALED(status):
            print("executor: the server was killed; starting it again", file=sys.stderr)
            continue
        return os.waitstatus_to_exitcode(status) if status else 0


# --------------------------------------------------------------------------- server


class Server:
    """Answers the runner's requests on a Unix socket, one thread per connection."""

    def __init__(self, socket_path: Path, root: Path, env: Mapping[str, str]) -> None:
        self.socket_path = socket_path
        self.root = root
        self.files = Files(root)
        self.env = command_environment(env, root)
        self.stop = threading.Event()
        self.groups: set[int] = set()  # the process groups of the commands started

    def kill_all(self) -> int:
        """Every process the agent's commands left: in a container (under become_init)
        every process but PID 1 and the server, elsewhere the commands' process groups."""
        if _UNDER_INIT:
            return kill_all()
        killed = 0
        for group in list(self.groups):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
                killed += 1
            self.groups.discard(group)
        return killed

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One request; every failure becomes an answer."""
        op = request.get("op")
        try:
            if op == "ping":
                return {"ok": True, "protocol": PROTOCOL, "pid": os.getpid()}
            if op == "bash":
                command = request.get("command")
                if not isinstance(command, str):
                    return {"error": "'command' must be a string"}
                if "\0" in command:
                    return {"error": "the command must not contain a NUL character"}
                return run_command(
                    command,
                    cwd=self.root,
                    env=self.env,
                    timeout=float(request.get("timeout") or 600),
                    head_bytes=int(request.get("head_bytes") or DEFAULT_HEAD_BYTES),
                    tail_bytes=int(request.get("tail_bytes") or DEFAULT_TAIL_BYTES),
                    started_group=self.groups.add,
                )
            if op == "tool":
                return self.tool(str(request.get("name")), request.get("input"))
            if op == "kill_all":
                return {"killed": self.kill_all()}
            if op == "shutdown":
                self.stop.set()
                return {"killed": self.kill_all()}
            return {"error": f"unknown request {op!r}"}
        except Exception as error:  # an answer, whatever went wrong
            return {"error": f"{op} failed: {type(error).__name__}: {error}"}

    def tool(self, name: str, tool_input: object) -> dict[str, Any]:
        handler = {
            "read_file": self.files.read_file,
            "write_file": self.files.write_file,
            "edit_file": self.files.edit_file,
            "list_files": self.files.list_files,
        }.get(name)
        if handler is None:
            return {"content": f"unknown tool {name!r}", "is_error": True}
        if not isinstance(tool_input, dict):
            return {"content": "the tool input must be an object", "is_error": True}
        try:
            return {"content": handler(tool_input), "is_error": False}
        except ToolInputError as error:
            return {"content": str(error), "is_error": True}
        except OSError as error:
            answer: dict[str, Any] = {
                "content": f"{name} failed: {error.strerror or error}", "is_error": True
            }
            if error.errno in FATAL_ERRNOS:
                answer["fatal"] = f"{error.strerror} ({name})"
            return answer
        except (ValueError, UnicodeError, RecursionError, MemoryError) as error:
            return {"content": f"{name} failed: {error}", "is_error": True}

    def serve_connection(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.settimeout(60)
                data = bytearray()
                while not data.endswith(b"\n"):
                    chunk = connection.recv(1 << 20)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) > MAX_REQUEST_BYTES:
                        raise ValueError("request too large")
                request = json.loads(data.decode("utf-8", errors="surrogatepass"))
                if not isinstance(request, dict):
                    raise ValueError("the request must be a JSON object")
                connection.settimeout(None)
                answer = self.handle(request)
            except Exception as error:
                answer = {"error": f"bad request: {error}"}
            with contextlib.suppress(OSError):
                connection.sendall(
                    json.dumps(answer, ensure_ascii=True).encode() + b"\n"
                )
        if self.stop.is_set():
            os._exit(0)

    def serve(self) -> int:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        partial = self.socket_path.with_name(self.socket_path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        listener.bind(str(partial))
        os.chmod(partial, 0o600)
        listener.listen(16)
        os.replace(partial, self.socket_path)  # the runner sees it only when it listens
        print(f"executor: listening on {self.socket_path}, commands in {self.root}",
              file=sys.stderr, flush=True)
        while not self.stop.is_set():
            connection, _ = listener.accept()
            threading.Thread(
                target=self.serve_connection, args=(connection,), daemon=True
            ).start()
        return 0


def install(target: Path) -> int:
    """Copies this file to `target` (the attempt pod's init container does, so that a
    workspace image without the runner can run it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(__file__, partial)
    os.chmod(partial, 0o644)
    os.replace(partial, target)
    print(f"executor: installed {target}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="agent-executor",
        description="Run the agent's commands and file tools for the runner, over a Unix "
        "socket (stdlib only: any image with python3 runs it).",
    )
    parser.add_argument("--socket", type=Path, help="Unix socket to listen on.")
    parser.add_argument("--root", type=Path, default=Path("/workspace"), help="Workspace.")
    parser.add_argument("--install", type=Path, metavar="FILE", help="Copy this file there.")
    args = parser.parse_args(argv)
    if args.install is not None:
        return install(args.install)
    if args.socket is None:
        parser.error("--socket is required")
    server = Server(args.socket, args.root, os.environ)
    return become_init(server.serve, respawn=True)


if __name__ == "__main__":
    sys.exit(main())
