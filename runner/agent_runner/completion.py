"""What makes an attempt a success: the agent's report is a claim, this is the evidence.

After the agent reports that it is done, the runner runs the completion checks (the
profile's ``verify`` commands, then the task's) in the workspace, with the agent's own
shell: same environment, command timeout and output cap. If one fails, the agent gets
one wrap-up round with the failing output, the checks run again, and a second failure
ends the attempt as VerifyFailed. An attempt that made no model turn, used no token, or
changed nothing where the profile expects changes is NoWork. Either way the work is still
committed and pushed: partial work is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from agent_api import report

from agent_runner import failures, tools
from agent_runner.transcript import Transcript

# The VerifyFailed message, with the end of the failing output, opens the report's summary
# and fits in the part of it the report encoder keeps under any shortening (a quarter of
# the 4 KB limit), so that the output's last lines always reach the task's status.
FAILURE_MESSAGE_CHARS: Final = report.REPORT_LIMIT_BYTES // 4 - 24
MIN_REPORT_TAIL_CHARS: Final = 300  # of the output, however long the message's start
FEEDBACK_TAIL_CHARS: Final = 8000  # of each failing check's output, for the wrap-up round
COMMAND_CHARS: Final = 120  # of a command line quoted in a message


class Agent(Protocol):
    """A backend that can be asked to go on after it reported."""

    def follow_up(self, text: str) -> tools.ReportClaim: ...


@dataclass(frozen=True)
class CheckResult:
    """One completion check that ran."""

    command: str
    exit_code: int | None  # None: killed at the timeout
    output: str
    timeout: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    @property
    def outcome(self) -> str:
        if self.exit_code is None:
            return f"killed after {self.timeout:.0f} s"
        return "passed" if self.exit_code == 0 else f"exit {self.exit_code}"


def quoted(command: str) -> str:
    line = " ".join(command.split())
    if len(line) > COMMAND_CHARS:
        line = line[: COMMAND_CHARS - 1] + "…"
    return f"`{line}`"


def tail(text: str, limit: int) -> str:
    """The end of the output, where the errors are; cut at a line start when possible."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    if 0 <= newline < limit // 4:
        cut = cut[newline + 1 :]
    return "…\n" + cut


def run_checks(
    toolbox: tools.ToolBox, commands: Sequence[str], *, round_number: int, log: Transcript
) -> list[CheckResult]:
    """Run every check (a failing one does not stop the others: the agent sees them all)."""
    results: list[CheckResult] = []
    for command in commands:
        timeout = toolbox.command_timeout()
        if timeout <= 0:
            raise failures.RunFailure(
                failures.TIMEOUT,
                f"no time was left to run the completion check {quoted(command)}; raise "
                "spec.timeoutSeconds or make the checks faster",
            )
        record, output = toolbox.shell(command, timeout=timeout, check_round=round_number)
        result = CheckResult(command, record.exit_code, output, timeout)
        log(f"check {round_number}", f"$ {command}\n[{result.outcome}]\n{output}")
        results.append(result)
    return results


def wrap_up_message(failed: Sequence[CheckResult]) -> str:
    """What the agent reads in its wrap-up round."""
    parts = [
        f"Verification failed: after your report the runner ran the completion checks in "
        f"the workspace and {len(failed)} of them failed. Here is the output. Fix the cause "
        "and call `report` again; the checks then run once more, and if they still fail "
        "the attempt fails (your work is saved either way)."
    ]
    for result in failed:
        parts.append(
            f"$ {result.command}\n[{result.outcome}]\n"
            f"{tail(result.output, FEEDBACK_TAIL_CHARS) or '(no output)'}"
        )
    return "\n\n".join(parts)


def verify_failure(failed: Sequence[CheckResult], *, when: str) -> failures.RunFailure:
    """VerifyFailed, with the end of the first failing check's output in the message."""
    first = failed[0]
    others = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    opening = (
        f"the completion check {quoted(first.command)} failed ({first.outcome}){others} "
        f"{when}; fix the cause, or the check in spec.verify of the profile or the task. "
        "The end of its output:\n"
    )
    room = max(MIN_REPORT_TAIL_CHARS, FAILURE_MESSAGE_CHARS - len(opening))
    return failures.RunFailure(
        failures.VERIFY_FAILED, opening + (tail(first.output, room) or "(no output)")
    )


def verify(
    agent: Agent, toolbox: tools.ToolBox, commands: Sequence[str], *, log: Transcript
) -> list[CheckResult]:
    """Run the checks, with one wrap-up round on a failure; returns the passing round.

    Raises RunFailure: VerifyFailed when they still fail (or the wrap-up round ended
    without a new report), else whatever ended the wrap-up round (Timeout, RateLimited...).
    """
    if not commands:
        return []
    results = run_checks(toolbox, commands, round_number=1, log=log)
    failed = [result for result in results if not result.passed]
    if not failed:
        return results
    log.runner(f"{len(failed)} of {len(results)} completion checks failed; one wrap-up round")
    try:
        agent.follow_up(wrap_up_message(failed))
    except failures.RunFailure as failure:
        if failure.reason in (failures.MAX_TURNS, failures.AGENT_GAVE_UP):
            raise verify_failure(
                failed,
                when=f"and the wrap-up round ended without a new report ({failure.reason})",
            ) from failure
        raise
    results = run_checks(toolbox, commands, round_number=2, log=log)
    failed = [result for result in results if not result.passed]
    if failed:
        raise verify_failure(failed, when="again after the wrap-up round")
    return results


def passed_note(results: Sequence[CheckResult]) -> str:
    """The line the summary ends with when the checks passed."""
    if not results:
        return ""
    return "Completion checks passed: " + ", ".join(quoted(r.command) for r in results) + "."


def no_model_work(*, turns: int | None, tokens: int) -> failures.RunFailure | None:
    """NoWork when no model can have done the task: no turn made or no token used.

    ``turns`` is None when the backend does not say how many model turns it made.
    """
    if turns == 0:
        return failures.RunFailure(failures.NO_WORK, "the agent made no model turn")
    if tokens == 0:
        return failures.RunFailure(
            failures.NO_WORK,
            "the agent used no tokens, so no model did the work; check ANTHROPIC_BASE_URL "
            "and any proxy in between",
        )
    return None


def no_changes(
    files_changed: Sequence[str], *, expect_changes: bool
) -> failures.RunFailure | None:
    """NoWork when nothing changed and the profile expects changes."""
    if expect_changes and not files_changed:
        return failures.RunFailure(
            failures.NO_WORK,
            "the agent changed no file, and the profile expects changes (expectChanges); "
            "if the task needs none, set expectChanges: false on its profile, else "
            "clarify the task's description",
        )
    return None
