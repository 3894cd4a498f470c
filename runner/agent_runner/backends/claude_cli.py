"""Optional backend: the Claude Code CLI (``claude -p --output-format json``).

Used when the image has the ``claude`` program installed and AGENT_BACKEND (or
``--backend``) is ``claude-cli``. The CLI runs its own agent loop and tools in the
workspace; the runner still owns the workspace (clone, branch, commit, push), the
report and the classification of failures, read from the CLI's JSON result.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent_api import attempt

from agent_runner import budget, failures, tools
from agent_runner.backends.messages_api import Clock, SystemClock, Usage
from agent_runner.settings import Settings
from agent_runner.transcript import Transcript

PROGRAM: Final = "claude"


@dataclass
class ClaudeCliRun:
    """The ``claude -p`` invocations of one attempt and what they reported."""

    settings: Settings
    root: Path
    env: Mapping[str, str]
    log: Transcript
    task_prompt: str
    system_prompt: str
    deadline: float  # clock.monotonic() value by which the CLI must have finished
    clock: Clock = field(default_factory=SystemClock)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None  # the CLI's own figure, when it gives one
    claim: tools.ReportClaim | None = None
    turns: int | None = None  # model turns as the CLI counts them (num_turns); None: untold
    session_id: str | None = None  # to resume the conversation for a follow-up

    def command(self, *, prompt_text: str, resume: bool = False) -> list[str]:
        argv = [PROGRAM, "-p", prompt_text]
        if resume:
            argv += ["--resume", self.session_id] if self.session_id else ["--continue"]
        turns_left = self.settings.max_turns - (self.turns or 0)
        return [
            *argv,
            "--output-format",
            "json",
            "--model",
            self.settings.model,
            "--max-turns",
            str(max(1, turns_left) if resume else self.settings.max_turns),
            "--append-system-prompt",
            self.system_prompt,
            "--permission-mode",
            "bypassPermissions",
        ]

    def run(self) -> tools.ReportClaim:
        """The CLI's result as a report claim; raises RunFailure on every failure."""
        if shutil.which(PROGRAM, path=self.env.get("PATH")) is None:
            raise failures.RunFailure(
                failures.CONFIG_ERROR,
                "AGENT_BACKEND is claude-cli but the `claude` program is not installed in "
                "the image; install @anthropic-ai/claude-code or use the api backend",
            )
        return self._invoke(self.command(prompt_text=self.task_prompt))

    def follow_up(self, text: str) -> tools.ReportClaim:
        """Resume the conversation with ``text``, within the turns left."""
        self.log("user", text)
        return self._invoke(self.command(prompt_text=text, resume=True))

    def _invoke(self, argv: list[str]) -> tools.ReportClaim:
        seconds = self.deadline - self.clock.monotonic()
        if seconds <= 0:
            raise failures.RunFailure(
                failures.TIMEOUT, f"no time was left to run {PROGRAM}"
            )
        hidden = (attempt.ENV_GIT_TOKEN, attempt.ENV_TASK_JSON)
        env = {k: v for k, v in self.env.items() if k not in hidden}
        self.log("runner", f"running {PROGRAM} -p (model {self.settings.model})")
        try:
            completed = subprocess.run(
                argv,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=max(1.0, seconds),
            )
        except subprocess.TimeoutExpired:
            raise failures.RunFailure(
                failures.TIMEOUT,
                f"{PROGRAM} did not finish within {seconds:.0f} s",
            ) from None
        if completed.stderr.strip():
            self.log("claude stderr", completed.stderr)
        result = parse_result(completed.stdout)
        self.log("claude", json.dumps(result, indent=1)[:4000])
        self.usage.add(_UsageView(result.get("usage")))
        cost = result.get("total_cost_usd")
        if isinstance(cost, int | float):
            self.cost_usd = (self.cost_usd or 0.0) + float(cost)
        turns = result.get("num_turns")
        if isinstance(turns, int) and not isinstance(turns, bool):
            self.turns = (self.turns or 0) + turns
        session = result.get("session_id")
        if isinstance(session, str) and session:
            self.session_id = session
        self.claim = claim_from_result(result, exit_code=completed.returncode)
        self._check_budget()
        return self.claim

    def _check_budget(self) -> None:
        """The CLI runs its own loop, so the budget is checked when it returns: its own
        cost figure when it gives one, else the price table's."""
        allowance = self.settings.allowance
        if self.cost_usd is not None and allowance.max_cost_usd is not None:
            if self.cost_usd >= allowance.max_cost_usd:
                reached: str | None = (
                    f"spent {budget.usd(self.cost_usd)} of its "
                    f"{budget.usd(allowance.max_cost_usd)} allowance"
                )
            else:
                tokens_only = budget.Allowance(max_tokens=allowance.max_tokens)
                reached = tokens_only.reached(self.settings.model, self.usage)
        else:
            reached = allowance.reached(self.settings.model, self.usage)
        if reached is not None:
            raise failures.RunFailure(
                failures.BUDGET_EXCEEDED,
                f"the attempt {reached} ({PROGRAM} is checked when it returns); the work "
                "so far is committed. Raise the budget and rerun the task to go on",
            )


class _UsageView:
    """Attribute access over the CLI's usage dictionary, for Usage.add."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw if isinstance(raw, dict) else {}

    def __getattr__(self, name: str) -> Any:
        return self._raw.get(name, 0)


def parse_result(stdout: str) -> dict[str, Any]:
    """The JSON result object (the last JSON line when the CLI prints several)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    try:
        value = json.loads(stdout)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value
    raise failures.RunFailure(
        failures.INTERNAL_ERROR,
        f"{PROGRAM} printed no JSON result: {stdout.strip()[:300] or '(nothing)'}",
    )


def claim_from_result(result: Mapping[str, Any], *, exit_code: int) -> tools.ReportClaim:
    """Classify the CLI's result the same way as the api backend's failures."""
    subtype = str(result.get("subtype", ""))
    text = str(result.get("result") or result.get("error") or "")
    lowered = text.lower()
    if subtype == "error_max_turns":
        raise failures.RunFailure(
            failures.MAX_TURNS, f"{PROGRAM} used all its turns without finishing"
        )
    if result.get("is_error") or exit_code != 0 or subtype.startswith("error"):
        if "api key" in lowered or "authentication" in lowered or "401" in lowered:
            raise failures.RunFailure(failures.CONFIG_ERROR, f"{PROGRAM}: {text[:500]}")
        if "rate limit" in lowered or "429" in lowered:
            raise failures.RunFailure(failures.RATE_LIMITED, f"{PROGRAM}: {text[:500]}")
        if "overloaded" in lowered or "529" in lowered:
            raise failures.RunFailure(failures.OVERLOADED, f"{PROGRAM}: {text[:500]}")
        raise failures.RunFailure(
            failures.AGENT_GAVE_UP,
            f"{PROGRAM} ended with an error ({subtype or f'exit {exit_code}'}): {text[:500]}",
        )
    return tools.ReportClaim(summary=text, completed=True)
