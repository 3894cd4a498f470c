"""The agent's tools, confined to the workspace.

Each tool takes the model's JSON input and returns text for a ``tool_result`` block.
A mistake the model can correct (a missing file, an ambiguous edit, a path outside the
workspace, a failing command) comes back to it as an error result; only a broken
workspace (read-only, full disk, no shell) ends the attempt, as ToolError.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent_api import attempt

from agent_runner import failures, redact, sandbox, testruns

MAX_OUTPUT_CHARS: Final = 30_000  # of one tool result, head and tail kept
# Of a command's output the executor keeps this many bytes of the start and of the end
# (it reads all of it as it comes, whatever its size); the result shows MAX_OUTPUT_CHARS.
OUTPUT_HEAD_BYTES: Final = 16 * 1024
OUTPUT_TAIL_BYTES: Final = 64 * 1024
FILE_TOOLS: Final = frozenset({"read_file", "write_file", "edit_file", "list_files"})

# Of each command's output, the end kept in its record: where test runners print their
# summary line (see testruns).
RECORD_TAIL_CHARS: Final = 8000

REPORT_TOOL_NAME: Final = "report"

TOOL_DEFINITIONS: Final[list[dict[str, Any]]] = [
    {
        "name": "bash",
        "description": "Run a shell command (bash -c) in the workspace directory and return "
        "its exit code and combined stdout/stderr (long output is cut in the middle). "
        "Commands are killed after the timeout. No input can be given to them. A "
        "background process must send its output elsewhere (`cmd > log 2>&1 &`): output "
        "is read for 2 s after the shell exits, no longer.",
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
    """Runs the tools for one workspace, through the executor, and remembers the commands.

    Every tool runs in the executor (the pod's `workspace` container), never in the
    runner: a file tool in the runner could be pointed by a symbolic link swapped in at the
    right moment at the runner's own files. Without an executor given, the first call
    starts a local one with the credentials taken out of ``env``.
    """

    root: Path
    command_timeout: Callable[[], float]  # seconds allowed for the next command
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    commands: list[CommandRecord] = field(default_factory=list)
    executor: sandbox.Client | None = None

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    def client(self) -> sandbox.Client:
        if self.executor is None:
            self.executor = sandbox.connect(
                self.root, self.env, scrubbed_environment(self.env, self.root)
            )
        return self.executor

    def close(self) -> None:
        """Stops the agent's processes and the executor."""
        if self.executor is not None:
            self.executor.close()

    def stop_processes(self) -> None:
        """Kills whatever the agent's commands left running (before the runner commits)."""
        if self.executor is None:
            return
        with contextlib.suppress(sandbox.Unavailable):
            self.executor.request({"op": "kill_all"}, timeout=30.0)

    def run(self, name: str, tool_input: Mapping[str, Any]) -> ToolOutcome:
        """Run one tool call; raises RunFailure(ToolError) only if the workspace is broken."""
        if not isinstance(tool_input, Mapping):
            return ToolOutcome("the tool input must be an object", is_error=True)
        if name == "bash":
            try:
                return ToolOutcome(truncate_middle(self._bash(tool_input)))
            except ToolInputError as error:
                return ToolOutcome(str(error), is_error=True)
        if name not in FILE_TOOLS:
            return ToolOutcome(f"unknown tool {name!r}", is_error=True)
        try:
            answer = self.client().request(
                {"op": "tool", "name": name, "input": dict(tool_input)}, timeout=120.0
            )
        except (sandbox.Unavailable, TypeError, ValueError) as error:
            return ToolOutcome(f"{name} failed: the workspace executor: {error}", is_error=True)
        fatal = answer.get("fatal")
        if isinstance(fatal, str):
            raise failures.RunFailure(
                failures.TOOL_ERROR,
                f"the workspace {self.root} is not usable: {fatal[:500]}; give the Job a "
                "writable volume with free space",
            )
        content = answer.get("content", answer.get("error"))
        if not isinstance(content, str):
            return ToolOutcome(f"{name} failed: the executor's answer has no text", is_error=True)
        return ToolOutcome(truncate_middle(content), is_error=answer.get("is_error") is not False)

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
        record (also kept in ``commands``) and its output (head and tail when long).
        A command that could not run is a record without exit code and an explanation."""
        started = time.monotonic()
        exit_code: int | None = None
        try:
            answer = self.client().request(
                {"op": "bash", "command": command, "timeout": timeout,
                 "head_bytes": OUTPUT_HEAD_BYTES, "tail_bytes": OUTPUT_TAIL_BYTES},
                timeout=timeout,
            )
        except sandbox.Unavailable as unavailable:
            answer = {"error": f"the workspace executor did not run it: {unavailable}"}
        problem = answer.get("error")
        text = answer.get("output")
        if isinstance(problem, str) or not isinstance(text, str):
            text = f"[not run: {problem if isinstance(problem, str) else 'no output'}]"
        else:
            code = answer.get("exit_code")
            exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
        seconds = time.monotonic() - started
        record = CommandRecord(
            command,
            exit_code,
            seconds,
            output_tail=text[-RECORD_TAIL_CHARS:],
            check_round=check_round,
        )
        self.commands.append(record)
        return record, text


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
