"""Task IDs and the names of the objects made from them.

The ID pattern is configurable (`--id-pattern`), so everything that finds an ID
in text goes through `IdPattern`, which also decides the milestone (the ID's
prefix) and whether an ID can be a Kubernetes-facing `spec.taskId` at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent_api import models, names

MAX_NAME = names.MAX_NAME
_NOT_NAME_CHAR = re.compile(r"[^a-z0-9-]")
_TASK_ID_SHAPE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_BEFORE_LAST_SEPARATOR = re.compile(r"^(.+)[./:_-]")
_LEADING_FLAGS = re.compile(r"^(?:\(\?[aiLmsux]+\))+")  # (?i) and the like, first in the pattern
# The default pattern as a whole word, written with its first letter before the
# look-behind: the same matches as the general form (the look-behind then checks the
# character before that T), but an expression that starts with a literal lets the engine
# skip to each T instead of trying every position.
_DEFAULT_REGEX = re.compile(
    rf"T(?<![A-Za-z0-9]T){models.DEFAULT_TASK_ID_PATTERN[1:]}(?![A-Za-z0-9])"
)


class BadIdPattern(ValueError):
    """The configured ID pattern is not a usable regular expression."""


@dataclass(frozen=True)
class IdPattern:
    """A compiled task ID pattern, matched only as a whole word.

    `T\\d{3}\\.\\d{3}` must not find `T001.001` inside `T001.0012` or `XT001.001`,
    so the pattern is wrapped in alphanumeric look-arounds.
    """

    source: str
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, source: str = models.DEFAULT_TASK_ID_PATTERN) -> IdPattern:
        """The pattern matched as a whole word. Errors name a position in `source` itself:
        it is compiled alone first, then wrapped (leading flags such as `(?i)` stay in
        front, where Python requires them)."""
        if not source:
            raise BadIdPattern("the task ID pattern is empty: give a regular expression")
        try:
            re.compile(source)
        except re.error as error:
            raise BadIdPattern(_invalid(source, error)) from error
        flags = _LEADING_FLAGS.match(source)
        lead, body = (flags.group(0), source[flags.end():]) if flags else ("", source)
        try:
            regex = re.compile(rf"{lead}(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])")
        except re.error as error:  # valid alone, not inside a group: flags in the middle
            raise BadIdPattern(
                f"the task ID pattern {source!r} cannot be matched as a whole word "
                f"({error.msg}): write flags as (?i) at its very start or as a scoped "
                f"group (?i:...); the default is {models.DEFAULT_TASK_ID_PATTERN!r}"
            ) from error
        if source == models.DEFAULT_TASK_ID_PATTERN:
            regex = _DEFAULT_REGEX  # the same matches, found several times faster
        if regex.search(""):
            raise BadIdPattern(
                f"the task ID pattern {source!r} matches the empty string: "
                "it must match at least one character"
            )
        return cls(source=source, regex=regex)

    @property
    def is_default(self) -> bool:
        return self.source == models.DEFAULT_TASK_ID_PATTERN

    def milestone_of(self, task_id: str) -> str:
        """The ID's prefix: `T001` for `T001.009`.

        A pattern with a named group `milestone` says so itself; otherwise the prefix is
        everything before the last separator (. - _ / :), or the whole ID without one.
        """
        if self.regex.groups == 0:
            cut = task_id.rfind(".")
            if cut > 0 and task_id[cut + 1:].isalnum():  # the common T001.009 shape
                return task_id[:cut]
        elif "milestone" in self.regex.groupindex:
            match = self.regex.fullmatch(task_id)
            if match and match.group("milestone"):
                return match.group("milestone")
        prefix = _BEFORE_LAST_SEPARATOR.match(task_id)
        return prefix.group(1) if prefix else task_id

    def find_all(self, text: str) -> list[str]:
        """Every ID in the text, in order (whole matches, whatever groups the pattern has)."""
        if self.regex.groups == 0:
            return self.regex.findall(text)
        return [match.group(0) for match in self.regex.finditer(text)]


def _invalid(source: str, error: re.error) -> str:
    where = ""
    if error.pos is not None:
        where = f" at position {error.pos}"
        if error.pos < len(source):
            where += f" ({source[error.pos:error.pos + 20]!r})"
    return (
        f"the task ID pattern {source!r} is not a valid regular expression: {error.msg}"
        f"{where}; the default is {models.DEFAULT_TASK_ID_PATTERN!r}"
    )


def is_valid_task_id(task_id: str) -> bool:
    """Whether the ID fits `spec.taskId` (letters, digits, . _ -; at most 63)."""
    return len(task_id) <= MAX_NAME and bool(_TASK_ID_SHAPE.match(task_id))


def task_object_name(plan: str, task_id: str) -> str:
    """`<plan>-<task id lowercased, other characters as '-'>`, kept within 63 characters.

    A name that would be longer is cut and given a short hash of the full name, so
    two long IDs that share a prefix still get different names.
    """
    name = f"{plan}-{_NOT_NAME_CHAR.sub('-', task_id.lower())}"
    if len(name) <= MAX_NAME:
        return name
    return f"{name[: MAX_NAME - 9].rstrip('-')}-{names.short_hash(name)}"


