"""Kubernetes names and label values made from task IDs and plan names.

Shared by the operator (Job names and labels) and the sync sidecar (AgentTask names and
labels), so that both shorten and sanitise the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from agent_api import models

MAX_NAME = 63  # a label value, and the names the project makes
_NOT_LABEL_CHAR = re.compile(r"[^A-Za-z0-9._-]")


def short_hash(text: str) -> str:
    """Eight hex digits that tell apart two long names cut to the same prefix."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def label_value(text: str) -> str:
    """A valid label value for `text`: disallowed characters become '-', long ones hashed."""
    value = _NOT_LABEL_CHAR.sub("-", text).strip("-._")
    if len(value) > MAX_NAME:
        value = f"{value[:54].rstrip('-._')}-{short_hash(text)}"
    return value


OPERATOR_MANAGER = "agent-operator"  # app.kubernetes.io/managed-by of the attempt Jobs


def attempt_of(labels: Mapping[str, str]) -> tuple[str, int] | None:
    """The (task, attempt number) an attempt's Job or pod carries in its labels; None for
    an object that is not one of the project's attempts."""
    task = labels.get(models.LABEL_TASK)
    try:
        attempt = int(labels.get(models.LABEL_ATTEMPT, ""))
    except ValueError:
        return None
    if not task or attempt < 1:
        return None
    return task, attempt
