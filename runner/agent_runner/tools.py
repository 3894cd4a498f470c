"""The agent's tools, confined to the workspace.

Each tool takes the model's JSON input and returns text for a ``tool_result`` block.
A mistake the model can correct (a missing file, an ambiguous edit, a path outside the
workspace, a failing command) comes back to it as an error result; only a broken
workspace (read-only, full disk, no shell) ends the attempt, as ToolError.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent_api import attempt

from agent_runner import failures, redact, testruns

MAX_OUTPUT_CHARS: Final = 30_000  # of one tool result, head and tail kept
MAX_READ_CHARS: Final = 100_000
MAX_LIST_ENTRIES: Final = 1000
LIST_SKIP_DIRS: Final = frozenset({".git", "node_modules", "__pycache__", ".venv", ".tox"})
FATAL_ERRNOS: Final = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT})

# Of each command's output, the end kept in its record: where test runners print their
# summary line (see testruns).
RECORD_TAIL_CHARS: Final = 8000

REPORT_TOOL_NAME: Final = "report"

TOOL_DEFINITIONS: Final[list[dict[str, Any]]] = [
    {
        "name": "bash",
        "description": "Run a shell command (bash -c) in the workspace directory and return "
        "its exit code and combined stdout/stderr (long output is cut in the middle). "
        "Commands are killed after the timeout. No input can be given to them.",
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command line."},
                "timeout_seconds": {
                    "type": "integer",
                    "description": "Optional, shorter timeout for this command.",
                },
            },
            "required": ["command"],
        },
    },
    {
        "name": "read_file",
        "description": "Read a text file of the workspace, with line numbers.",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace."},
                "offset": {"type": "integer", "description": "First line (from 1)."},
                "limit": {"type": "integer", "description": "Number of lines."},
            },
            "required": ["path"],
        },
    },
    {
        "name": "write_file",
        "description": "Create or overwrite a file (parent directories are created).",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "content": {"type": "string"},
            },
            "required": ["path", "content"],
        },
    },
    {
        "name": "edit_file",
        "description": "Replace old_text with new_text in a file. old_text must occur "
        "exactly once unless replace_all is true.",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "old_text": {"type": "string"},
                "new_text": {"type": "string"},
                "replace_all": {"type": "boolean"},
            },
            "required": ["path", "old_text", "new_text"],
        },
    },
    {
        "name": "list_files",
        "description": "List files under a directory of the workspace (recursive by "
        "default; .git, node_modules and caches are skipped).",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Directory; default '.'."},
                "recursive": {"type": "boolean"},
            },
        },
    },
    {
        "name": REPORT_TOOL_NAME,
        "description": "Finish the task: report what you did. Call it exactly once, last. "
        "Files changed are taken from the workspace and test results from the commands "
        "run, not from this report.",
        "input_schema": {
            "type": "object",
            "properties": {
                "summary": {
                    "type": "string",
                    "description": "What you did and what remains, in a few sentences.",
                },
                "status": {
                    "type": "string",
                    "enum": ["completed", "gave_up"],
                    "description": "completed: the task is done. gave_up: you could not "
                    "do it (say why in the summary).",
                },
            },
            "required": ["summary", "status"],
        },
    },
]


class ToolInputError(Exception):
    """A mistake in the model's tool input: reported back to the model."""


@dataclass(frozen=True)
class ToolOutcome:
    """What goes back to the model."""

    content: str
    is_error: bool = False


@dataclass(frozen=True)
class CommandRecord:
    """One shell command that ran in the workspace, kept as evidence for the report."""

    command: str
    exit_code: int | None  # None: killed at the timeout
    seconds: float
    output_tail: str = ""  # the end of its output (RECORD_TAIL_CHARS)
    check_round: int | None = None  # None: the agent's; 1, 2: a round of completion checks

    @property
    def tests_verdict(self) -> bool | None:
        """Whether it was a passing test run; None if no test runner's summary shows."""
        return testruns.verdict(self.output_tail, self.exit_code)


@dataclass(frozen=True)
class ReportClaim:
    """The agent's own account, from the report tool."""

    summary: str
    completed: bool


def parse_report_claim(tool_input: Mapping[str, Any]) -> ReportClaim:
    summary = tool_input.get("summary")
    status = tool_input.get("status")
    if not isinstance(summary, str) or status not in ("completed", "gave_up"):
        raise ToolInputError(
            "report needs 'summary' (text) and 'status' ('completed' or 'gave_up')"
        )
    return ReportClaim(summary=summary, completed=status == "completed")


def truncate_middle(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Keep the start and (the larger share of) the end: errors tend to come last."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n… [{cut} characters cut] …\n{text[-tail:]}"


def scrubbed_environment(env: Mapping[str, str], root: Path | None = None) -> dict[str, str]:
    """The environment for the agent's commands, without credentials in it."""
    clean: dict[str, str] = {}
    for name, value in env.items():
        if name in redact.SECRET_ENV_NAMES or name.endswith(redact.SECRET_ENV_SUFFIXES):
            continue
        if name.startswith(("ANTHROPIC_", "GIT_CONFIG")) or name == attempt.ENV_TASK_JSON:
            continue
        clean[name] = value
    clean["GIT_TERMINAL_PROMPT"] = "0"
    if root is not None:
        # Let the agent's own git commands accept a volume owned by another uid.
        clean.update(
            {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
             "GIT_CONFIG_VALUE_0": str(root)}
        )
    return clean


@dataclass
class ToolBox:
    """Runs the tools for one workspace and remembers the commands run."""

    root: Path
    command_timeout: Callable[[], float]  # seconds allowed for the next command
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    commands: list[CommandRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self._handlers: dict[str, Callable[[Mapping[str, Any]], str]] = {
            "bash": self._bash,
            "read_file": self._read_file,
            "write_file": self._write_file,
            "edit_file": self._edit_file,
            "list_files": self._list_files,
        }

    def run(self, name: str, tool_input: Mapping[str, Any]) -> ToolOutcome:
        """Run one tool call; raises RunFailure(ToolError) only if the workspace is broken."""
        handler = self._handlers.get(name)
        if handler is None:
            return ToolOutcome(f"unknown tool {name!r}", is_error=True)
        if not isinstance(tool_input, Mapping):
            return ToolOutcome("the tool input must be an object", is_error=True)
        try:
            return ToolOutcome(truncate_middle(handler(tool_input)))
        except ToolInputError as error:
            return ToolOutcome(str(error), is_error=True)
        except OSError as error:
            if error.errno in FATAL_ERRNOS:
                raise failures.RunFailure(
                    failures.TOOL_ERROR,
                    f"the workspace {self.root} is not usable: {error.strerror} "
                    f"({name}); give the Job a writable volume with free space",
                ) from error
            return ToolOutcome(f"{name} failed: {error.strerror or error}", is_error=True)

    # ------------------------------------------------------------------ paths

    def resolve(self, path: object, *, default: str | None = None) -> Path:
        """The absolute path inside the workspace; refuses anything that escapes it."""
        if path is None and default is not None:
            path = default
        if not isinstance(path, str) or not path.strip():
            raise ToolInputError("'path' must be a non-empty string")
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        resolved = candidate.resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise ToolInputError(f"{path} is outside the workspace; use paths inside it")
        return resolved

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."

    def _writable(self, path: object) -> Path:
        resolved = self.resolve(path)
        if ".git" in resolved.relative_to(self.root).parts:
            raise ToolInputError("files under .git are managed by the runner; leave them")
        return resolved

    # ------------------------------------------------------------------ tools

    def _bash(self, tool_input: Mapping[str, Any]) -> str:
        command = tool_input.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolInputError("'command' must be a non-empty string")
        timeout = self.command_timeout()
        asked = tool_input.get("timeout_seconds")
        if isinstance(asked, int | float) and asked > 0:
            timeout = min(timeout, float(asked))
        if timeout <= 0:
            raise ToolInputError("no time is left to run commands; call report now")
        record, text = self.shell(command, timeout=timeout)
        if record.exit_code is None:
            return f"[killed after {timeout:.0f} s timeout]\n{text}"
        return f"[exit code {record.exit_code}]\n{text}"

    def shell(
        self, command: str, *, timeout: float, check_round: int | None = None
    ) -> tuple[CommandRecord, str]:
        """Run one command line in the workspace, as the agent's shell does; returns its
        record (also kept in ``commands``) and its whole output."""
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.root,
                env=scrubbed_environment(self.env, self.root),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            raise failures.RunFailure(
                failures.TOOL_ERROR, f"cannot start bash in {self.root}: {error}"
            ) from error
        try:
            output, _ = process.communicate(timeout=timeout)
            exit_code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            exit_code = None
        except BaseException:  # SIGTERM or a crash: leave no command running behind us
            _kill_group(process)
            process.wait()
            raise
        seconds = time.monotonic() - started
        text = output.decode("utf-8", errors="replace")
        record = CommandRecord(
            command,
            exit_code,
            seconds,
            output_tail=text[-RECORD_TAIL_CHARS:],
            check_round=check_round,
        )
        self.commands.append(record)
        return record, text

    def _read_file(self, tool_input: Mapping[str, Any]) -> str:
        path = self.resolve(tool_input.get("path"))
        if not path.is_file():
            raise ToolInputError(f"{self._relative(path)} is not a file")
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        offset = tool_input.get("offset")
        limit = tool_input.get("limit")
        start = max(1, offset) if isinstance(offset, int) else 1
        end = start - 1 + limit if isinstance(limit, int) and limit > 0 else len(lines)
        numbered = "\n".join(
            f"{number:6}\t{line}" for number, line in enumerate(lines[start - 1 : end], start)
        )
        if not numbered:
            return f"({self._relative(path)} has {len(lines)} lines; none in that range)"
        return truncate_middle(numbered, MAX_READ_CHARS)

    def _write_file(self, tool_input: Mapping[str, Any]) -> str:
        path = self._writable(tool_input.get("path"))
        content = tool_input.get("content")
        if not isinstance(content, str):
            raise ToolInputError("'content' must be a string")
        if path.is_dir():
            raise ToolInputError(f"{self._relative(path)} is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return f"wrote {self._relative(path)} ({len(content.encode())} bytes)"

    def _edit_file(self, tool_input: Mapping[str, Any]) -> str:
        path = self._writable(tool_input.get("path"))
        old = tool_input.get("old_text")
        new = tool_input.get("new_text")
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise ToolInputError("'old_text' (non-empty) and 'new_text' must be strings")
        if not path.is_file():
            raise ToolInputError(f"{self._relative(path)} is not a file")
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count == 0:
            raise ToolInputError(f"old_text does not occur in {self._relative(path)}")
        if count > 1 and tool_input.get("replace_all") is not True:
            raise ToolInputError(
                f"old_text occurs {count} times in {self._relative(path)}; add context "
                "to make it unique or set replace_all"
            )
        path.write_text(text.replace(old, new), encoding="utf-8")
        return f"edited {self._relative(path)} ({count} replacement{'s' if count > 1 else ''})"

    def _list_files(self, tool_input: Mapping[str, Any]) -> str:
        base = self.resolve(tool_input.get("path"), default=".")
        if not base.is_dir():
            raise ToolInputError(f"{self._relative(base)} is not a directory")
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
                    entries.append(self._relative(here / name.rstrip("/")) + suffix)
            if not recursive:
                break
        entries.sort()
        if total > len(entries):
            entries.append(f"… and {total - len(entries)} more")
        return "\n".join(entries) if entries else "(empty)"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def tests_passed(commands: list[CommandRecord]) -> bool | None:
    """Whether the tests passed, judged from the commands that actually ran.

    Only commands whose output shows a test runner's summary count (see testruns). The
    last of them decides; when it is a completion check, its whole round of checks does
    (every test run in it must pass). With none, the answer is unknown (None), whatever
    the agent claims.
    """
    judged = [(record, verdict) for record in commands if (verdict := record.tests_verdict)
              is not None]
    if not judged:
        return None
    last, verdict = judged[-1]
    if last.check_round is None:
        return verdict
    return all(v for record, v in judged if record.check_round == last.check_round)
