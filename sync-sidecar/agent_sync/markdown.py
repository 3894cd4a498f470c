"""Parse a plan's markdown task list: one pass, precompiled regexes, no I/O.

One expression over the whole text finds every checkbox item's line; such a line outside
code blocks and comments is read from that match (the fast path), every other line on its
own. Both paths agree with the line-by-line reader the tests keep as a reference.

Every expression here runs in time linear in its input: no nested quantifiers, and no two
adjacent runs that can both take the same characters (where one is needed, it is
possessive, `*+`), so a line of a megabyte costs what its length says. Headings are read
by hand. Lines longer than `LONG_LINE` characters and NUL characters are reported with
their line number.

The format (docs/markdown-format.md): a task is a task-list item (`- [ ]`, `- [x]`,
any list marker, any nesting) outside fenced code and HTML comments whose first line
holds a task ID. Other IDs in the item's text are dependencies, `blocked by: text`
without an ID is a gate, a standalone P0..P3 is the priority, `[x]` is done.

The parser never gives up: a line it cannot read becomes a `Problem` with its line
number and the rest of the file is parsed as usual. A task whose line cannot be read
(an unknown checkbox state) is *held*: the sidecar neither applies nor prunes it, so
a typo never deletes work in the cluster.

Besides meaning, the parser records where each task's checkbox character and status
comment sit in the text, so that `writeback` can change exactly those characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from agent_api import gates, limits, models

from agent_sync.ids import IdPattern, is_valid_task_id

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
# A checkbox item's line anywhere in the text, for the fast path of `parse`: the newline
# before it, its indentation, the state between the brackets, and the rest of the line
# (with a carriage return, if any). The same item as _CHECKBOX_ITEM after the indentation;
# possessive runs. Starting with a literal newline lets the engine skip from line to line.
_TASK_LINE = re.compile(
    r"\n([ \t]*+)(?:[-*+]|[0-9]\d{0,8}[.)])[ \t]++\[([^\]\r\n]{0,3})\](?=[ \t]|\r?$)([^\n]*+)",
    re.M,
)
_FENCE = re.compile(r"(`{3,}+|~{3,}+)(.*)$")
# P before the look-behind (which then checks the character before it): the engine skips
# to each P instead of trying every position; the same matches as (?<!...)P.
_PRIORITY_TOKEN = re.compile(r"P(?<![A-Za-z0-9_]P)(\d++)(?![A-Za-z0-9_])")
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
_ALMOST_DEFAULT_ID = re.compile(r"[Tt](?<![A-Za-z0-9][Tt])\d{1,5}[.\-_]\d{1,5}(?![A-Za-z0-9])")
_ALMOST_ID = re.compile(
    r"[ \t]*+[*_`\[(]*+(([A-Za-z]{1,16}+)([-._:/]?)\d{1,9}+((?:[-._:/]\d{1,9}+)*+))"
    r"(?![A-Za-z0-9])"
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a person should know about one line of the file."""

    line: int
    severity: Severity
    code: str  # stable, kebab-case: what kind of problem (duplicate-id, cycle, ...)
    message: str  # what is wrong and what to do
    task_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "severity": self.severity,
            "code": self.code,
            "taskId": self.task_id,
            "message": self.message,
        }


class Task(NamedTuple):
    """One task read from the file, with the positions write-back needs.

    A NamedTuple rather than a frozen dataclass: a 10,000-task file builds 10,000 of
    them, and a tuple is several times cheaper to make.
    """

    task_id: str
    line: int  # 1-based line of the item's first line
    title: str
    description: str
    priority: str
    depends_on: tuple[str, ...]
    gates: tuple[str, ...]
    done: bool
    milestone: str  # the ID's prefix, e.g. T001
    heading: str | None  # the heading the task sits under
    checkbox_offset: int  # index in the text of the checkbox's state character
    line_end: int  # index just after the first line's content (before its line ending)
    status_span: tuple[int, int] | None  # the trailing status comment, leading space included
    status: str | None  # the phase that comment shows
    can_annotate: bool  # False when the line ends inside a construct a comment would break


_new_task = tuple.__new__
_DEFAULT_IDS = IdPattern.compile()


@dataclass(frozen=True)
class ParsedPlan:
    """Everything read from one file."""

    tasks: tuple[Task, ...]
    problems: tuple[Problem, ...]
    held_ids: frozenset[str]  # IDs on lines that could not be read: never applied nor pruned
    line_count: int

    def by_id(self) -> dict[str, Task]:
        return {task.task_id: task for task in self.tasks}


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
    """Reads every task in the text; problems are collected, never raised.

    One expression (`_TASK_LINE`) finds every checkbox item's line in the whole text. Such
    a line outside code blocks and comments, with no `<!--` of its own, is read from its
    match alone: the usual task line costs one match and one ID search. Every other line
    is walked on its own: fences, comments, headings, blank and continuation lines.
    """
    ids = pattern or _DEFAULT_IDS
    default = ids.is_default
    find_ids = ids.regex.findall if ids.regex.groups == 0 else ids.find_all
    problems: list[Problem] = []
    slots: list[Task | None] = []
    held: set[str] = set()
    first_line_of: dict[str, int] = {}
    # Open items, innermost last; each a list, see _finish for its fields.
    stack: list[list[Any]] = []
    heading: str | None = None
    fence: tuple[str, int, int] | None = None  # (char, length, opening line)
    fence_owner: list[Any] | None = None
    in_comment = False
    comment_line = 0
    has_cr = "\r" in text
    has_comment = "<!--" in text
    may_be_long = len(text) > LONG_LINE
    end = len(text)
    # Over the text after a newline, so that the first line has one too: a match starts
    # at the index its line has in `text`, and its groups sit one further on.
    scanner = _TASK_LINE.finditer("\n" + text)
    match = next(scanner, None)
    number = 0
    pos = 0  # where the next line starts

    while pos <= end:
        number += 1
        start = pos
        content: str | None = None  # the line without its line ending, on the slow path
        if (
            match is not None and match.start() == pos and fence is None and not in_comment
            and not (has_comment and text.find("<!--", pos, match.end() - 1) >= 0)
        ):
            # The fast path: a checkbox item outside code and comments.
            lead, box, rest = match.groups()
            checkbox_offset = match.start(2) - 1
            line_end = match.end() - 1
            match = next(scanner, None)
            pos = line_end + 1
            if has_cr and rest.endswith("\r"):
                rest = rest[:-1]
                line_end -= 1
            if may_be_long and line_end - start > LONG_LINE:
                problems.append(_long_line(number, line_end - start))
            indent = _indent_of(lead) if "\t" in lead else len(lead)
            box_column = checkbox_offset - 1 - start - len(lead)
            while stack and stack[-1][0] >= indent:
                _finish(stack.pop(), ids, default, slots, problems)
            opened_comment = False
        else:
            eol = text.find("\n", pos)
            if eol < 0:
                eol = end
            raw = text[pos:eol]
            pos = eol + 1
            while match is not None and match.start() < pos:
                match = next(scanner, None)  # a line this path reads (in code, say)
            content = raw[:-1] if has_cr and raw.endswith("\r") else raw
            if may_be_long and len(content) > LONG_LINE:
                problems.append(_long_line(number, len(content)))

            if fence is not None:
                stripped = content.lstrip(" \t")
                if (
                    stripped.startswith(fence[0] * fence[1])
                    and not stripped.strip(fence[0]).strip()
                ):
                    fence = None
                elif fence_owner is not None:
                    fence_owner[1].append(content)
                continue

            visible = content
            opened_comment = False
            if in_comment or (has_comment and "<!--" in content):
                was_in_comment = in_comment
                visible, in_comment = _strip_comments(content, in_comment)
                if in_comment and not was_in_comment:
                    comment_line = number
                    opened_comment = True
            stripped = visible.lstrip(" \t")
            if not stripped or stripped.isspace():
                if stack:
                    stack[-1][1].append("")
                continue
            lead_length = len(visible) - len(stripped)
            indent = (
                _indent_of(visible[:lead_length])
                if lead_length and "\t" in visible[:lead_length]
                else lead_length
            )
            first = stripped[0]

            if first in "`~":
                opening = _FENCE.match(stripped)
                if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
                    while stack and stack[-1][0] >= indent:
                        _finish(stack.pop(), ids, default, slots, problems)
                    fence = (opening.group(1)[0], len(opening.group(1)), number)
                    fence_owner = stack[-1] if stack else None
                    if fence_owner is not None:
                        fence_owner[1].append(content)
                    continue

            if first == "#" and indent < 4 and not (stack and indent > stack[-1][0]):
                is_heading, heading_text = _heading_text(stripped)
                if is_heading:
                    while stack:
                        _finish(stack.pop(), ids, default, slots, problems)
                    heading = heading_text
                    continue

            item = _CHECKBOX_ITEM.match(stripped) if first in "-*+0123456789" else None
            while stack and stack[-1][0] >= indent:
                _finish(stack.pop(), ids, default, slots, problems)
            if item is None:
                if stack:
                    stack[-1][1].append(visible)
                continue
            rest = stripped[item.end():]
            box = item.group(1)
            box_column = stripped.index("[", 0, item.end())  # marker and its spaces
            checkbox_offset = start + len(content) - len(stripped) + box_column + 1
            line_end = start + len(content)

        # A checkbox item, from either path: a task when its first line holds an ID.
        mentioned = find_ids(rest)
        if not mentioned:
            if default:
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
                stack[-1][1].append(visible if content is not None else text[start:line_end])
            continue

        task_id = mentioned[0]
        usable = True
        if box != " " and box != "x" and box != "X":
            usable = False
            held.add(task_id)
            problems.append(Problem(
                number, "error", "unreadable-checkbox",
                f"line {number}: {task_id} has the checkbox [{box}], which is neither "
                "[ ] (open) nor [x] (done); write one of those. Until then the task is "
                "left as it is in the cluster.",
                task_id,
            ))
        elif not (default or is_valid_task_id(task_id)):
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

        status_span: tuple[int, int] | None = None
        status: str | None = None
        if content is not None and "<!-- agent:" in content:
            status_match = STATUS_COMMENT.search(content)
            if status_match:
                status_span = (start + status_match.start(), start + status_match.end())
                status = status_match.group(1)
        slots.append(None)
        stack.append([  # the fields _finish reads, in its order
            indent, [], task_id, number, rest, mentioned, box == "x" or box == "X", heading,
            checkbox_offset, line_end, status_span, status, not opened_comment,
            len(slots) - 1, usable, indent + box_column,
        ])

    while stack:
        _finish(stack.pop(), ids, default, slots, problems)
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
    tasks = tuple(filter(None, slots))  # a Task is a non-empty tuple
    return ParsedPlan(
        tasks=tasks, problems=tuple(problems), held_ids=frozenset(held), line_count=number
    )


def _long_line(number: int, length: int) -> Problem:
    return Problem(
        number, "warning", "long-line",
        f"line {number} is {length:,} characters long (more than {LONG_LINE:,}); it is "
        f"read, but a task's title keeps only {MAX_TITLE} and its text only "
        f"{MAX_DESCRIPTION} characters: split it",
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


def _finish(
    item: list[Any], ids: IdPattern, default: bool, slots: list[Task | None],
    problems: list[Problem],
) -> None:
    """Turns a closed item into a Task: dependencies, gates, priority, title, text."""
    (
        _, more, task_id, line, first_text, mentioned, done, heading, checkbox_offset,
        line_end, status_span, status, can_annotate, slot, usable, content_indent,
    ) = item
    if not usable:
        return
    if more:
        while more and (not more[-1] or more[-1].isspace()):
            more.pop()
    if more:
        body = "\n".join([first_text, *more])
        mentioned = ids.find_all(body)
    else:
        body = first_text  # the IDs of the first line are already known

    depends: tuple[str, ...] = ()
    count = len(mentioned)
    if count == 2 and mentioned[0] == task_id and mentioned[1] != task_id:
        depends = (mentioned[1],)  # the usual case: one dependency
    elif count > 1:
        depends = _dependencies(mentioned, line, task_id, problems)

    priority = DEFAULT_PRIORITY
    if "P" in body or "riority" in body:
        # A default ID holds no P; an ID of a custom pattern must not read as a priority.
        if not default and "P" in (mentioned[0] if count == 1 else "".join(mentioned)):
            priority = _priority(
                ids.regex.sub(" ", body), ids.regex.sub(" ", first_text), line, task_id,
                problems,
            )
        else:
            tokens = _PRIORITY_TOKEN.findall(body)
            if len(tokens) == 1 and tokens[0] in _PRIORITY_DIGITS and "riority" not in first_text:
                priority = _PRIORITY_OF[tokens[0]]  # the usual case: one valid token
            elif tokens or "riority" in body:
                priority = _priority(body, first_text, line, task_id, problems)
    gates = (
        _gates(body, ids, line, task_id, problems)
        if ":" in body and ("ocked" in body or "OCKED" in body)
        else ()
    )

    first = first_text.strip()
    if first.startswith(task_id):
        # The usual case, as in _title (with the end stripped first, which is the same);
        # for a one-line item, its text too.
        title = first[len(task_id):].lstrip(_ID_WRAPPERS)
    else:
        title = _title(first_text, task_id)
    if not title or len(title) > MAX_TITLE:
        title = _checked_title(title, line, task_id, problems)
    description = _description(first, more, content_indent) if more else first
    if len(description) > MAX_DESCRIPTION:
        problems.append(Problem(
            line, "warning", "long-description",
            f"line {line}: {task_id}'s text is {len(description)} characters; only "
            f"{MAX_DESCRIPTION} are synced",
            task_id,
        ))
        description = description[:MAX_DESCRIPTION]

    # Positional, in Task's field order: a 10,000-task file makes 10,000 of these.
    slots[slot] = _new_task(Task, (
        task_id, line, title, description, priority, depends, gates, done,
        task_id[:4] if default else ids.milestone_of(task_id), heading, checkbox_offset,
        line_end, status_span, status, can_annotate,
    ))


def _dependencies(
    mentioned: list[str], line: int, task_id: str, problems: list[Problem]
) -> tuple[str, ...]:
    """Every ID but the task's own, once each, in order; a second own mention is an error."""
    found: list[str] = []
    seen = {task_id}
    own_mentions = 0
    for other in mentioned:
        if other == task_id:
            own_mentions += 1
        elif other not in seen:
            seen.add(other)
            found.append(other)
    if own_mentions > 1:
        problems.append(Problem(
            line, "error", "self-dependency",
            f"line {line}: {task_id} names itself as a dependency; a task cannot wait for "
            "itself: remove the second mention (it is ignored)",
            task_id,
        ))
    if len(found) > MAX_DEPENDENCIES:
        problems.append(Problem(
            line, "error", "too-many-dependencies",
            f"line {line}: {task_id} has {len(found)} dependencies; at most "
            f"{MAX_DEPENDENCIES} are allowed, only the first {MAX_DEPENDENCIES} are synced",
            task_id,
        ))
        del found[MAX_DEPENDENCIES:]
    return tuple(found)


def _checked_title(title: str, line: int, task_id: str, problems: list[Problem]) -> str:
    """An empty title (the ID instead) or one cut to MAX_TITLE, with its warning."""
    if not title:
        problems.append(Problem(
            line, "warning", "missing-title",
            f"line {line}: {task_id} has no title; write what the task is after its ID",
            task_id,
        ))
        return task_id
    problems.append(Problem(
        line, "warning", "long-title",
        f"line {line}: {task_id}'s first line is {len(title)} characters; only "
        f"{MAX_TITLE} are kept as its title, put the rest on indented lines below",
        task_id,
    ))
    return title[:MAX_TITLE]


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


def _description(first: str, more: list[str], content_indent: int) -> str:
    """The item's text: its first line (stripped), then its continuation lines dedented."""
    cut = content_indent
    lines = [first]
    for line in more:
        expanded = line.expandtabs(4) if "\t" in line[:cut] else line
        lead = len(expanded) - len(expanded.lstrip(" "))
        lines.append(expanded[min(lead, cut):].rstrip())
    return "\n".join(lines).strip()
