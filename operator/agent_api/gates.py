"""The `blocked by:` clause of a task's text, in one place for every component.

The sync sidecar reads a task's gates from these clauses (docs/markdown-format.md), and
routing leaves them out of the text its rules see: a gate names what the task waits for,
not what the task is about, so `blocked by: security review` must not send a database
task to a security profile. A clause runs from `blocked by:` to the end of the line or to
the first `;`, `)` or `]`.

The expression runs in time linear in the text (possessive runs only).
"""

from __future__ import annotations

import re

GATE_CLAUSE = re.compile(r"(?i:blocked[ \t]++by)[ \t]*+:[ \t]*+([^;)\]\n]*+)")


def without_gate_clauses(text: str) -> str:
    """The text with every `blocked by: ...` clause replaced by a space."""
    if ":" not in text:
        return text
    return GATE_CLAUSE.sub(" ", text)
