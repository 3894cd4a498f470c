"""The words the agent is given: the task prompt and the system prompt.

The task prompt keeps the plan's shape ("You are {agent} agent. Task: ... Priority: ...
report what you did, files changed, tests passed, completion status") and adds what a
person would tell a colleague picking the task up: what the tasks it depends on
produced, and why the last attempt failed. Pure functions of the task input.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_runner.task import TaskInput

MAX_DEPENDENCY_SUMMARY_CHARS = 2000
MAX_FAILURE_SUMMARY_CHARS = 2000

RUNNER_INSTRUCTIONS = """\
You work autonomously in a workspace directory, using the tools you are given: run shell \
commands, read, write and edit files, and list files. Paths are relative to the \
workspace; you cannot leave it. Nobody will answer questions: decide and act.
{repository_note}
Work in small steps and check your work (build it, run the tests) before you finish. \
When you are done, or if you cannot complete the task, call the `report` tool exactly \
once with a summary of what you did and whether it is completed. Ending your turn \
without calling `report` counts as giving up."""

REPOSITORY_NOTE = """\
The workspace is a git clone on branch {branch}. Do not push, switch branches or \
rewrite history: whatever you leave in the workspace is committed and pushed for you \
when you report."""

NO_REPOSITORY_NOTE = "The workspace is not a git repository you need to manage."

WRAP_UP_NOTICE = """\
Limit approaching: {what}. Stop starting new work. Leave the workspace in a consistent \
state and call the `report` tool now; unfinished work is still saved."""


BUDGET_NOTE = """\
Budget: this attempt may use {allowance}, counted from the model's token use. When it is \
used up you get one last turn: then call the `report` tool at once, saying what is done \
and what is left to do; the work in the workspace is committed and pushed for you."""

BUDGET_NOTICE = """\
Budget used up: this attempt {what}. Do not start anything else and call no tool but \
`report`: call it now with status gave_up, saying what is done and exactly what is left to \
do, so that the next attempt can continue from it. The workspace is committed and pushed \
as it is."""


def budget_notice(what: str) -> str:
    """The last message of an attempt whose allowance is used up."""
    return BUDGET_NOTICE.format(what=what)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


CHECKS_NOTE = """\
When you report the task completed, the runner runs these completion checks in the \
workspace; the attempt succeeds only if every one exits 0, so run them yourself first:"""


def build_task_prompt(
    task_input: TaskInput,
    *,
    agent_name: str,
    branch: str | None,
    checks: Sequence[str] = (),
    allowance: str | None = None,
    review: Sequence[str] | None = None,
) -> str:
    """The first user message of the conversation; `allowance` describes the attempt's
    budget when it has one; `review` is the section on the branch's pull request review
    (`review.feedback_lines`), when it has comments."""
    spec = task_input.spec
    context = task_input.context
    lines = [
        f"You are {agent_name} agent.",
        f"Task: {spec.task_id}: {spec.title}",
    ]
    if spec.description.strip():
        lines += ["", spec.description.strip(), ""]
    lines.append(f"Priority: {spec.priority}")
    if spec.repository is not None and branch is not None:
        lines.append(
            f"Repository: {spec.repository.url} (from branch {spec.repository.branch}; "
            f"you are on {branch})"
        )
    if context.dependencies:
        lines += ["", "This task depends on finished tasks; what they reported:"]
        for dependency in context.dependencies:
            title = f" ({dependency.title})" if dependency.title else ""
            summary = _clip(dependency.summary, MAX_DEPENDENCY_SUMMARY_CHARS) or "(no summary)"
            lines.append(f"- {dependency.task_id}{title}: {summary}")
    failure = context.previous_failure
    if failure is not None and context.attempt > 1:
        lines += [
            "",
            f"This is attempt {context.attempt}. The previous attempt failed"
            + (f" ({failure.reason})" if failure.reason else "")
            + (
                f": {_clip(failure.summary, MAX_FAILURE_SUMMARY_CHARS)}"
                if failure.summary.strip()
                else "."
            ),
            "Avoid what made it fail; its committed work, if any, is already in the workspace.",
        ]
    if review:
        lines += ["", *review]
    if checks:
        lines += ["", CHECKS_NOTE, *(f"- `{command}`" for command in checks)]
    if allowance:
        lines += ["", BUDGET_NOTE.format(allowance=allowance)]
    lines += [
        "",
        "Execute this task and report:",
        "1. What you did",
        "2. Files changed",
        "3. Tests passed",
        "4. Completion status",
    ]
    return "\n".join(lines)


def build_system_prompt(profile_prompt: str, *, branch: str | None) -> str:
    """The profile's system prompt followed by how the runner works."""
    note = REPOSITORY_NOTE.format(branch=branch) if branch else NO_REPOSITORY_NOTE
    instructions = RUNNER_INSTRUCTIONS.format(repository_note=note)
    if profile_prompt.strip():
        return f"{profile_prompt.strip()}\n\n{instructions}"
    return instructions


def wrap_up_notice(*, turns_left: int | None, seconds_left: float | None) -> str:
    """The message that tells the agent to finish before a hard limit."""
    parts = []
    if turns_left is not None:
        parts.append(f"{turns_left} model turn{'s' if turns_left != 1 else ''} left")
    if seconds_left is not None:
        parts.append(f"about {max(0, int(seconds_left))} seconds left")
    return WRAP_UP_NOTICE.format(what=" and ".join(parts) or "the attempt is ending")
