"""Status back into the file: which boxes to tick, which status comments to show.

The only characters the sidecar ever changes in a person's file are a task's
checkbox character (a space becomes `x`) and a trailing status comment on the
task's first line (` <!-- agent: Running -->`, or with the pull request of a task
under review: ` <!-- agent: AwaitingReview https://github.com/acme/app/pull/7 -->`),
which the parser ignores. Line
endings, trailing spaces, tabs, unicode and a missing final newline stay as they are.

Deciding is level-based, from the file and the cluster alone, so a restart loses
nothing:
- a task whose current run Succeeded and whose box is open gets ticked;
- a box that is open while the task Succeeded and its box was ticked when last applied
  (`spec.done`, or the `ticked` annotation for a tick of an agent's success) means a
  person unticked it: run it again (`spec.rerun`);
- a Succeeded phase that answers an older `spec.rerun` is stale and ticks nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from agent_sync.markdown import ParsedPlan

StatusMode = Literal["none", "active", "all"]
# Phases a status comment shows in the default mode: the ones a person acts on.
ACTIVE_PHASES = frozenset(
    {"Running", "Retrying", "Failed", "Cancelled", "AwaitingReview", "Rejected"}
)
# Phases whose status comment also shows the task's pull request.
REVIEW_PHASES = frozenset({"AwaitingReview", "Rejected"})
_SHOWABLE_URL = re.compile(r"[^\s<>]{1,2048}")
ALL_PHASES = frozenset({"Pending", "Blocked", "Queued", *ACTIVE_PHASES})


@dataclass(frozen=True)
class Observed:
    """What the cluster says about one task the file names."""

    done: bool  # spec.done as last applied
    phase: str | None  # status.phase
    current: bool  # status.observedRerun answers spec.rerun: the phase is about this run
    ticked: bool = False  # the box was ticked when the task was last applied
    marked_done: bool = False  # it succeeded by being marked done, not through an attempt
    pull_url: str | None = None  # status.result.prUrl: the task's pull request


@dataclass(frozen=True)
class WriteBack:
    """The changes one sync makes to the file and to re-runs."""

    ticks: frozenset[str] = frozenset()  # task IDs whose box becomes [x]
    statuses: Mapping[str, str | None] = field(default_factory=dict)  # ID -> shown phase
    reruns: frozenset[str] = frozenset()  # task IDs a person unticked after success

    @property
    def changes_file(self) -> bool:
        return bool(self.ticks or self.statuses)


def comment_for(phase: str | None, mode: StatusMode, pull_url: str | None = None) -> str | None:
    """What a status comment should show (the phase, and the pull request of a task
    under review), or None for no comment."""
    if phase is None or mode == "none":
        return None
    shown = ACTIVE_PHASES if mode == "active" else ALL_PHASES
    if phase not in shown:
        return None
    if phase in REVIEW_PHASES and pull_url and _SHOWABLE_URL.fullmatch(pull_url):
        return f"{phase} {pull_url}"
    return phase


def decide(
    parsed: ParsedPlan, observed: Mapping[str, Observed], mode: StatusMode = "active"
) -> WriteBack:
    ticks: set[str] = set()
    reruns: set[str] = set()
    statuses: dict[str, str | None] = {}
    for task in parsed.tasks:
        seen = observed.get(task.task_id)
        if seen is None:
            continue  # not in the cluster yet: nothing to report
        wanted: str | None
        if task.done:
            wanted = None
        elif (seen.done or seen.ticked) and seen.phase == "Succeeded":
            reruns.add(task.task_id)
            wanted = None
        elif seen.phase == "Succeeded" and seen.current:
            ticks.add(task.task_id)
            wanted = None
        else:
            wanted = comment_for(seen.phase, mode, seen.pull_url)
        if wanted != task.status and (wanted is None or task.can_annotate):
            statuses[task.task_id] = wanted
    return WriteBack(frozenset(ticks), statuses, frozenset(reruns))


def apply(text: str, parsed: ParsedPlan, change: WriteBack) -> str:
    """The text with exactly the decided characters changed."""
    edits: list[tuple[int, int, str]] = []
    for task in parsed.tasks:
        if task.task_id in change.ticks and text[task.checkbox_offset] == " ":
            edits.append((task.checkbox_offset, task.checkbox_offset + 1, "x"))
        if task.task_id in change.statuses:
            phase = change.statuses[task.task_id]
            comment = f" <!-- agent: {phase} -->" if phase else ""
            if task.status_span is not None:
                edits.append((task.status_span[0], task.status_span[1], comment))
            elif comment:
                edits.append((task.line_end, task.line_end, comment))
    if not edits:
        return text
    edits.sort()
    pieces: list[str] = []
    position = 0
    for start, end, replacement in edits:
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
