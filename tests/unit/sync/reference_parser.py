"""The line-by-line reader (and lint) the sync sidecar used before its parser scanned texts.

Kept verbatim (only its data classes are shared with agent_sync.markdown) as the
reference the faster parser must agree with, task for task and problem for problem, on
generated and tricky input (tests/unit/sync/test_sync_parser_agreement.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from agent_api import gates, limits, models
from agent_sync.ids import IdPattern, is_valid_task_id
from agent_sync.lint import cycles
from agent_sync.markdown import ParsedPlan, Problem, Task

Severity = Literal["error", "warning"]

DEFAULT_PRIORITY: str = models.DEFAULT_PRIORITY
_PRIORITIES = frozenset(models.PRIORITIES)
_PRIORITY_DIGITS = frozenset(p[1:] for p in models.PRIORITIES)
_PRIORITY_OF = {digit: f"P{digit}" for digit in _PRIORITY_DIGITS}
MAX_TITLE = limits.max_length(models.AgentTaskSpec, "title")
MAX_DESCRIPTION = limits.max_length(models.AgentTaskSpec, "description")
MAX_DEPENDENCIES = 256
MAX_GATES = 64
MAX_GATE = 1024

# A list item with a checkbox: marker, whitespace, [state], then whitespace or the end.
_CHECKBOX_ITEM = re.compile(r"(?:[-*+]|\d{1,9}[.)])[ \t]+\[([^\]\r\n]{0,3})\](?=[ \t]|$)")
_FENCE = re.compile(r"(`{3,}+|~{3,}+)(.*)$")
_PRIORITY_TOKEN = re.compile(r"(?<![A-Za-z0-9_])P(\d++)(?![A-Za-z0-9_])")
_PRIORITY_FIELD = re.compile(r"(?i:priority)\s*+[:=]\s*+[*_`\[(]*+\s*+([^\s*_`\]),;.]++)")
_GATE = gates.GATE_CLAUSE  # shared with routing, which leaves these clauses out
# The status comment the sidecar keeps at the end of a task's first line: the phase, and
# for a task whose pull request is under review its URL (no space, < or >).
STATUS_COMMENT = re.compile(r" <!-- agent: ([A-Za-z]++(?: [^\s<>]{1,2048}+)?) -->(?=[ \t]*+$)")
LONG_LINE = 65536  # characters; a longer line is reported (and still read)
_ID_WRAPPERS = " \t:|\u2013\u2014-"  # stripped from the front of a title
# Things that look like a task ID but do not match the pattern: for the default pattern,
# T01.7 and the like anywhere on the line; for a custom one, a first word of letters and
# digits such as PAY-12, AB12 or T1.2 (one letter and digits alone, as in v2, is a word).
_ALMOST_DEFAULT_ID = re.compile(r"(?<![A-Za-z0-9])[Tt]\d{1,5}[.\-_]\d{1,5}(?![A-Za-z0-9])")
_ALMOST_ID = re.compile(
    r"[ \t]*+[*_`\[(]*+(([A-Za-z]{1,16}+)([-._:/]?)\d{1,9}+((?:[-._:/]\d{1,9}+)*+))"
    r"(?![A-Za-z0-9])"
)


_new_task = tuple.__new__


@dataclass(slots=True)
class _Item:
    """A task item still collecting its continuation lines."""

    task_id: str
    line: int
    indent: int
    content_indent: int
    first_text: str
    done: bool
    heading: str | None
    checkbox_offset: int
    line_end: int
    status_span: tuple[int, int] | None
    status: str | None
    can_annotate: bool
    slot: int
    usable: bool  # False for a duplicate or unreadable item: collects lines, yields no task
    more: list[str] = field(default_factory=list)


def _heading_text(stripped: str) -> tuple[bool, str | None]:
    """Whether the line (without its indentation) is an ATX heading, and its text.

    By hand, in one scan: `#` to `######`, then a space, a tab or the end; the text without
    a closing run of `#` that follows a space or tab, and without surrounding whitespace.
    """
    hashes = len(stripped) - len(stripped.lstrip("#"))
    if not 1 <= hashes <= 6:
        return False, None
    rest = stripped[hashes:]
    if not rest:
        return True, None
    if rest[0] not in " \t":
        return False, None
    text = rest.lstrip(" \t").rstrip(" \t")
    without_closing = text.rstrip("#")
    if without_closing != text and without_closing[-1:] in (" ", "\t"):
        text = without_closing.rstrip(" \t")
    return True, text.strip() or None


def _indent_of(whitespace: str) -> int:
    if "\t" not in whitespace:
        return len(whitespace)
    column = 0
    for char in whitespace:
        column = column + 4 - column % 4 if char == "\t" else column + 1
    return column


def _strip_comments(content: str, in_comment: bool) -> tuple[str, bool]:
    """Blanks out HTML comments (keeping columns); returns the text and the new state."""
    out: list[str] = []
    pos = 0
    while pos < len(content):
        if in_comment:
            close = content.find("-->", pos)
            if close < 0:
                out.append(" " * (len(content) - pos))
                return "".join(out), True
            out.append(" " * (close + 3 - pos))
            pos = close + 3
            in_comment = False
        else:
            start = content.find("<!--", pos)
            if start < 0:
                out.append(content[pos:])
                break
            out.append(content[pos:start])
            pos = start
            in_comment = True
    return "".join(out), in_comment


def parse(text: str, pattern: IdPattern | None = None) -> ParsedPlan:
    """Reads every task in the text; problems are collected, never raised."""
    ids = pattern or IdPattern.compile()
    id_regex = ids.regex
    problems: list[Problem] = []
    slots: list[Task | None] = []
    held: set[str] = set()
    first_line_of: dict[str, int] = {}
    stack: list[_Item] = []
    heading: str | None = None
    fence: tuple[str, int, int] | None = None  # (char, length, opening line)
    fence_owner: _Item | None = None
    in_comment = False
    comment_line = 0
    offset = 0
    lines = text.split("\n")

    def close_to(indent: int) -> None:
        while stack and stack[-1].indent >= indent:
            _finish(stack.pop(), ids, slots, problems)

    for number, raw in enumerate(lines, 1):
        start = offset
        offset += len(raw) + 1
        content = raw[:-1] if raw.endswith("\r") else raw
        if len(content) > LONG_LINE:
            problems.append(Problem(
                number, "warning", "long-line",
                f"line {number} is {len(content):,} characters long (more than "
                f"{LONG_LINE:,}); it is read, but a task's title keeps only {MAX_TITLE} and "
                f"its text only {MAX_DESCRIPTION} characters: split it",
            ))

        if fence is not None:
            stripped = content.lstrip(" \t")
            if stripped.startswith(fence[0] * fence[1]) and not stripped.strip(fence[0]).strip():
                fence = None
            elif fence_owner is not None:
                fence_owner.more.append(content)
            continue

        visible = content
        opened_comment = False
        if in_comment or "<!--" in content:
            was_in_comment = in_comment
            visible, in_comment = _strip_comments(content, in_comment)
            if in_comment and not was_in_comment:
                comment_line = number
                opened_comment = True
        stripped = visible.lstrip(" \t")
        if not stripped or stripped.isspace():
            if stack:
                stack[-1].more.append("")
            continue
        lead = len(visible) - len(stripped)
        indent = _indent_of(visible[:lead]) if lead and "\t" in visible[:lead] else lead
        first = stripped[0]

        if first in "`~":
            opening = _FENCE.match(stripped)
            if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
                close_to(indent)
                fence = (opening.group(1)[0], len(opening.group(1)), number)
                fence_owner = stack[-1] if stack else None
                if fence_owner is not None:
                    fence_owner.more.append(content)
                continue

        if first == "#" and indent < 4 and not (stack and indent > stack[-1].indent):
            is_heading, heading_text = _heading_text(stripped)
            if is_heading:
                close_to(0)
                heading = heading_text
                continue

        item = _CHECKBOX_ITEM.match(stripped) if first in "-*+0123456789" else None
        if stack and stack[-1].indent >= indent:
            close_to(indent)
        if item is None:
            if stack:
                stack[-1].more.append(visible)
            continue

        rest = stripped[item.end():]
        found = id_regex.search(rest)
        if found is None:
            if ids.is_default:
                almost = _ALMOST_DEFAULT_ID.search(rest)
                if almost:
                    problems.append(Problem(
                        number, "warning", "unrecognised-id",
                        f"line {number}: {almost.group(0)!r} looks like a task ID but does "
                        f"not match the pattern {ids.source}, so this item is not a task; "
                        "write it as T001.009 (three digits, a dot, three digits)",
                    ))
            else:
                almost = _ALMOST_ID.match(rest)
                if almost and (len(almost.group(2)) > 1 or almost.group(3) or almost.group(4)):
                    problems.append(Problem(
                        number, "warning", "unrecognised-id",
                        f"line {number}: {almost.group(1)!r} looks like a task ID but does "
                        f"not match the pattern {ids.source}, so this item is not a task; "
                        "write the ID as the pattern says, or change the pattern "
                        "(--id-pattern or AGENT_SYNC_ID_PATTERN)",
                    ))
            if stack:
                stack[-1].more.append(visible)
            continue

        task_id = found.group(0)
        box = item.group(1)
        box_column = stripped.index("[", 0, item.end())  # marker and its spaces
        box_index = len(content) - len(stripped) + box_column + 1
        usable = True
        if box not in (" ", "x", "X"):
            usable = False
            held.add(task_id)
            problems.append(Problem(
                number, "error", "unreadable-checkbox",
                f"line {number}: {task_id} has the checkbox [{box}], which is neither "
                "[ ] (open) nor [x] (done); write one of those. Until then the task is "
                "left as it is in the cluster.",
                task_id,
            ))
        elif not (ids.is_default or is_valid_task_id(task_id)):
            usable = False
            problems.append(Problem(
                number, "error", "invalid-id",
                f"line {number}: {task_id!r} cannot be a task ID: use at most 63 letters, "
                "digits, '.', '_' or '-', starting and ending with a letter or digit; "
                "change the ID pattern if it matches too much",
                task_id,
            ))
        elif task_id in first_line_of:
            usable = False
            problems.append(Problem(
                number, "error", "duplicate-id",
                f"line {number}: {task_id} is already the task on line "
                f"{first_line_of[task_id]}; give this task a new ID (only line "
                f"{first_line_of[task_id]} is synced)",
                task_id,
            ))
        else:
            first_line_of[task_id] = number

        status_match = STATUS_COMMENT.search(content) if "<!-- agent:" in content else None
        status_span = (
            (start + status_match.start(), start + status_match.end()) if status_match else None
        )
        slots.append(None)
        stack.append(_Item(  # positional, in _Item's field order (speed)
            task_id, number, indent, indent + box_column, rest, box in ("x", "X"), heading,
            start + box_index, start + len(content), status_span,
            status_match.group(1) if status_match else None, not opened_comment,
            len(slots) - 1, usable,
        ))

    close_to(-1)
    if "\x00" in text:
        _report_nul(text, problems)
    if fence is not None:
        problems.append(Problem(
            fence[2], "warning", "unclosed-code-block",
            f"line {fence[2]}: this code block never closes, so nothing after it is read; "
            f"add a closing {fence[0] * fence[1]} line",
        ))
    if in_comment:
        problems.append(Problem(
            comment_line, "warning", "unclosed-comment",
            f"line {comment_line}: this HTML comment never closes, so nothing after it is "
            "read; add -->",
        ))
    tasks = tuple(task for task in slots if task is not None)
    return ParsedPlan(
        tasks=tasks, problems=tuple(problems), held_ids=frozenset(held), line_count=len(lines)
    )


def _report_nul(text: str, problems: list[Problem]) -> None:
    """A warning for the first line with a NUL character (a binary file, or a bad save)."""
    index = text.index("\x00")
    line = text.count("\n", 0, index) + 1
    count = text.count("\x00")
    problems.append(Problem(
        line, "warning", "nul-character",
        f"line {line}: the file holds {count:,} NUL character{'s' if count != 1 else ''} "
        "(the first here); is it a text file? The NULs are kept as they are",
    ))


def _finish(item: _Item, ids: IdPattern, slots: list[Task | None], problems: list[Problem]) -> None:
    """Turns a closed item into a Task: dependencies, gates, priority, title, text."""
    if not item.usable:
        return
    line = item.line
    task_id = item.task_id
    while item.more and (not item.more[-1] or item.more[-1].isspace()):
        item.more.pop()
    body = item.first_text if not item.more else "\n".join([item.first_text, *item.more])

    depends: list[str] = []
    own_mentions = 1
    mentioned = ids.find_all(body)
    if len(mentioned) > 1:
        seen = {task_id}
        own_mentions = 0
        for other in mentioned:
            if other == task_id:
                own_mentions += 1
            elif other not in seen:
                seen.add(other)
                depends.append(other)
    if own_mentions > 1:
        problems.append(Problem(
            line, "error", "self-dependency",
            f"line {line}: {task_id} names itself as a dependency; a task cannot wait for "
            "itself: remove the second mention (it is ignored)",
            task_id,
        ))
    if len(depends) > MAX_DEPENDENCIES:
        problems.append(Problem(
            line, "error", "too-many-dependencies",
            f"line {line}: {task_id} has {len(depends)} dependencies; at most "
            f"{MAX_DEPENDENCIES} are allowed, only the first {MAX_DEPENDENCIES} are synced",
            task_id,
        ))
        depends = depends[:MAX_DEPENDENCIES]

    priority = DEFAULT_PRIORITY
    if "P" in body or "riority" in body:
        first = item.first_text
        if "P" in (mentioned[0] if len(mentioned) == 1 else "".join(mentioned)):
            # an ID (of a custom pattern) must not read as a priority
            priority = _priority(
                ids.regex.sub(" ", body), ids.regex.sub(" ", first), line, task_id, problems
            )
        else:
            tokens = _PRIORITY_TOKEN.findall(body)
            if len(tokens) == 1 and tokens[0] in _PRIORITY_DIGITS and "riority" not in first:
                priority = _PRIORITY_OF[tokens[0]]  # the usual case: one valid token
            elif tokens or "riority" in body:
                priority = _priority(body, first, line, task_id, problems)
    gates = (
        _gates(body, ids, line, task_id, problems)
        if ":" in body and ("ocked" in body or "OCKED" in body)
        else ()
    )

    title = _title(item.first_text, task_id)
    if not title:
        title = task_id
        problems.append(Problem(
            line, "warning", "missing-title",
            f"line {line}: {task_id} has no title; write what the task is after its ID",
            task_id,
        ))
    elif len(title) > MAX_TITLE:
        problems.append(Problem(
            line, "warning", "long-title",
            f"line {line}: {task_id}'s first line is {len(title)} characters; only "
            f"{MAX_TITLE} are kept as its title, put the rest on indented lines below",
            task_id,
        ))
        title = title[:MAX_TITLE]
    description = _description(item) if item.more else item.first_text.strip()
    if len(description) > MAX_DESCRIPTION:
        problems.append(Problem(
            line, "warning", "long-description",
            f"line {line}: {task_id}'s text is {len(description)} characters; only "
            f"{MAX_DESCRIPTION} are synced",
            task_id,
        ))
        description = description[:MAX_DESCRIPTION]

    # Positional, in Task's field order: a 10,000-task file makes 10,000 of these.
    slots[item.slot] = _new_task(Task, (
        task_id, line, title, description, priority, tuple(depends), gates, item.done,
        ids.milestone_of(task_id), item.heading, item.checkbox_offset, item.line_end,
        item.status_span, item.status, item.can_annotate,
    ))


def _priority(
    text: str, first_line: str, line: int, task_id: str, problems: list[Problem]
) -> str:
    """The one P0..P3 token in the text; `Priority: <other>` on the first line is an error."""
    found: list[str] = []
    for digits in _PRIORITY_TOKEN.findall(text):
        token = f"P{digits}"
        if token in _PRIORITIES:
            if token not in found:
                found.append(token)
        else:
            problems.append(Problem(
                line, "error", "invalid-priority",
                f"line {line}: {task_id} has priority {token}; priorities are P0 (first) "
                "to P3 (last): write one of those",
                task_id,
            ))
    if "riority" in first_line or "RIORITY" in first_line:
        for match in _PRIORITY_FIELD.finditer(first_line):
            value = match.group(1)
            if not _PRIORITY_TOKEN.fullmatch(value):
                problems.append(Problem(
                    line, "error", "invalid-priority",
                    f"line {line}: {task_id} has 'Priority: {value}'; priorities are P0 "
                    "(first) to P3 (last): write one of those",
                    task_id,
                ))
    if len(found) > 1:
        problems.append(Problem(
            line, "warning", "conflicting-priorities",
            f"line {line}: {task_id} names several priorities ({', '.join(found)}); the "
            f"first, {found[0]}, is used: keep only one",
            task_id,
        ))
    return found[0] if found else DEFAULT_PRIORITY


def _gates(
    text: str, ids: IdPattern, line: int, task_id: str, problems: list[Problem]
) -> tuple[str, ...]:
    gates: list[str] = []
    for match in _GATE.finditer(text):
        gate = match.group(1).strip().strip("*_`").strip().rstrip(".,").strip()
        if ids.regex.search(gate):
            continue  # blocked by another task: a dependency, already counted
        if not gate:
            problems.append(Problem(
                line, "warning", "empty-gate",
                f"line {line}: {task_id} says 'blocked by:' without saying by what; write "
                "the blocker after the colon, or a task ID",
                task_id,
            ))
            continue
        if len(gate) > MAX_GATE:
            gate = gate[:MAX_GATE]
        if gate not in gates:
            gates.append(gate)
    if len(gates) > MAX_GATES:
        problems.append(Problem(
            line, "error", "too-many-gates",
            f"line {line}: {task_id} has {len(gates)} gates; only the first {MAX_GATES} "
            "are synced",
            task_id,
        ))
        gates = gates[:MAX_GATES]
    return tuple(gates)


def _title(first_text: str, task_id: str) -> str:
    """The first line without its ID (and the bold or code marks around the ID)."""
    text = first_text.lstrip()
    if text.startswith(task_id):
        return text[len(task_id):].lstrip(_ID_WRAPPERS).rstrip()
    index = first_text.find(task_id)
    before, after = first_text[:index], first_text[index + len(task_id):]
    for mark in ("**", "__", "`", "*", "_"):
        if before.rstrip().endswith(mark) and after.startswith(mark):
            before = before.rstrip()[: -len(mark)]
            after = after[len(mark):]
            break
    title = f"{before.strip()} {after.lstrip(_ID_WRAPPERS)}" if before.strip() else after
    return title.lstrip(_ID_WRAPPERS).strip()


def _description(item: _Item) -> str:
    first = item.first_text.strip()
    if not item.more:
        return first
    cut = item.content_indent
    lines = [first]
    for line in item.more:
        expanded = line.expandtabs(4) if "\t" in line[:cut] else line
        lead = len(expanded) - len(expanded.lstrip(" "))
        lines.append(expanded[min(lead, cut):].rstrip())
    return "\n".join(lines).strip()


# The cross-task checks as they were (the cycle search is shared, unchanged).


def lint(parsed: ParsedPlan) -> list[Problem]:
    problems = list(parsed.problems)
    tasks = parsed.by_id()
    problems.extend(unknown_dependencies(parsed.tasks, tasks, parsed.held_ids))
    problems.extend(cycles(parsed.tasks, tasks))
    problems.extend(done_before_dependencies(parsed.tasks, tasks))
    problems.sort(key=lambda problem: (problem.line, problem.severity != "error", problem.code))
    return problems


def unknown_dependencies(
    ordered: Sequence[Task], tasks: Mapping[str, Task], held: frozenset[str]
) -> list[Problem]:
    problems = []
    for task in ordered:
        for dependency in task.depends_on:
            if dependency not in tasks and dependency not in held:
                problems.append(Problem(
                    task.line, "error", "unknown-dependency",
                    f"line {task.line}: {task.task_id} depends on {dependency}, which is no "
                    f"task in this file, so {task.task_id} would wait forever; add "
                    f"{dependency} or correct the ID",
                    task.task_id,
                ))
    return problems


def done_before_dependencies(ordered: Sequence[Task], tasks: Mapping[str, Task]) -> list[Problem]:
    problems = []
    for task in ordered:
        if not task.done:
            continue
        open_ones = [d for d in task.depends_on if d in tasks and not tasks[d].done]
        if open_ones:
            problems.append(Problem(
                task.line, "warning", "done-before-dependency",
                f"line {task.line}: {task.task_id} is ticked but depends on "
                f"{', '.join(open_ones)}, which {'is' if len(open_ones) == 1 else 'are'} "
                "not; check whether the dependency is really open",
                task.task_id,
            ))
    return problems
