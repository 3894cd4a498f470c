"""The task's pull request: opened, or updated, from the agent branch after a successful
attempt, and its review comments read back for the next attempt's prompt.

One pull request per task: an attempt finds the open one of its branch (`agent/<taskId>`)
and updates its title and body; a pull request closed without merge is reopened (a
person asked for another run after rejecting it); otherwise a new one is opened. Pure
apart from the forge calls, which go through `agent_api.forge`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from agent_api import forge, models

from agent_runner import completion
from agent_runner.task import TaskInput

MAX_BODY_CHARS = 60_000
MAX_FEEDBACK_CHARS = 6_000
MAX_COMMENT_CHARS = 1_500
MAX_FILES_LISTED = 100

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Feedback:
    """What reviewers said on the task's pull request."""

    pull: forge.PullRequest
    comments: tuple[forge.Comment, ...]

    @property
    def changes_requested(self) -> bool:
        verdicts = [c.verdict for c in self.comments if c.verdict]
        return bool(verdicts) and verdicts[-1] == "CHANGES_REQUESTED"


def pull_title(spec: models.AgentTaskSpec) -> str:
    title = f"{spec.task_id}: {spec.title}".strip()
    return title if len(title) <= 250 else title[:249] + "…"


def pull_body(
    task_input: TaskInput,
    *,
    summary: str,
    files: Sequence[str],
    checks: Sequence[completion.CheckResult],
    tests_passed: bool | None,
    cost_usd: float,
    commit: str | None,
    attempt: int,
    agent: str,
) -> str:
    """What a reviewer reads first: the agent's summary, the files, the checks and their
    results, the cost, and how to find the task in the cluster."""
    meta = task_input.task.metadata
    lines = ["## Summary", "", summary.strip() or "(no summary)", "", "## Files changed", ""]
    lines += [f"- `{path}`" for path in files[:MAX_FILES_LISTED]] or ["(none)"]
    if len(files) > MAX_FILES_LISTED:
        lines.append(f"- … and {len(files) - MAX_FILES_LISTED} more")
    lines += ["", "## Checks", ""]
    if checks:
        lines += [f"- `{c.command}`: {'passed' if c.passed else c.outcome}" for c in checks]
    else:
        lines.append("(no completion checks are configured)")
    tests = {True: "passed", False: "failed", None: "no test run seen"}[tests_passed]
    lines.append(f"- tests the agent ran: {tests}")
    namespace = f"-n {meta.namespace} " if meta.namespace else ""
    lines += [
        "",
        "## Task",
        "",
        f"- agent: {agent}, attempt {attempt}" + (f", commit `{commit[:12]}`" if commit else ""),
        f"- estimated cost: ${cost_usd:.4f}",
        f"- `kubectl {namespace}get atask {meta.name or task_input.spec.task_id}`",
    ]
    body = "\n".join(lines)
    return body if len(body) <= MAX_BODY_CHARS else body[: MAX_BODY_CHARS - 1] + "…"


def publish(
    client: forge.Forge, *, head: str, base: str, title: str, body: str, log: Log
) -> forge.PullRequest:
    """The task's pull request after this attempt: the open one updated, a closed one
    reopened, or a new one."""
    pulls = client.pulls(head)
    current = next((p for p in pulls if p.state == "open"), None)
    if current is not None:
        updated = client.update_pull(current.number, title=title, body=body)
        log(f"updated pull request #{updated.number}: {updated.url}")
        return updated
    closed = next((p for p in pulls if p.state == "closed"), None)
    if closed is not None:
        try:
            reopened = client.update_pull(closed.number, title=title, body=body, reopen=True)
        except forge.RateLimited:
            raise
        except forge.ForgeError as error:
            log(f"could not reopen pull request #{closed.number} ({error}); opening a new one")
        else:
            log(f"reopened pull request #{reopened.number}: {reopened.url}")
            return reopened
    opened = client.open_pull(head=head, base=base, title=title, body=body)
    log(f"opened pull request #{opened.number}: {opened.url}")
    return opened


def feedback(client: forge.Forge, head: str) -> Feedback | None:
    """The comments on the newest unmerged pull request of the branch, if it has any: of
    people who may write to the repository only (on GitHub, `author_association`), since
    anyone may comment on a public repository."""
    pull = next((p for p in client.pulls(head) if p.state != "merged"), None)
    if pull is None:
        return None
    comments = tuple(
        c for c in client.comments(pull.number) if c.trusted and (c.body.strip() or c.verdict)
    )
    return Feedback(pull, comments) if comments else None


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def feedback_lines(found: Feedback) -> list[str]:
    """The prompt's section on the review, newest comments kept when it is long."""
    pull = found.pull
    state = "closed without merge" if pull.state == "closed" else "open"
    verdict = " Changes were requested." if found.changes_requested else ""
    head = [
        f"Your earlier work on this branch is pull request #{pull.number} ({state}).{verdict} "
        "The reviewers said, oldest first:",
    ]
    entries: list[str] = []
    for comment in found.comments:
        where = ""
        if comment.path:
            where = f" on {comment.path}" + (f":{comment.line}" if comment.line else "")
        label = f" ({comment.verdict.lower().replace('_', ' ')})" if comment.verdict else ""
        body = _clip(comment.body, MAX_COMMENT_CHARS) or "(no text)"
        entries.append(f"- {comment.author or 'someone'}{label}{where}: {body}")
    kept: list[str] = []
    used = 0
    for entry in reversed(entries):
        if used + len(entry) > MAX_FEEDBACK_CHARS:
            kept.append(f"- ({len(entries) - len(kept)} earlier comments left out)")
            break
        kept.append(entry)
        used += len(entry)
    return [
        *head,
        *reversed(kept),
        "Address every point in this attempt; your commits are pushed to the same branch "
        "and the pull request is updated.",
    ]
