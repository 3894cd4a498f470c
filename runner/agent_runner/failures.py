"""Ending an attempt with a classified reason.

The vocabulary itself (the reasons, their exit codes, which are retried) is the contract
with the operator and lives in `agent_api.failures`; every way the runner can end badly is
mapped onto exactly one of those names before it leaves the process.
"""

from __future__ import annotations

from agent_api.failures import (
    AGENT_GAVE_UP,
    BUDGET_EXCEEDED,
    CONFIG_ERROR,
    INTERNAL_ERROR,
    MAX_TURNS,
    NO_WORK,
    OVERLOADED,
    RATE_LIMITED,
    TIMEOUT,
    TOOL_ERROR,
    VERIFY_FAILED,
)
from agent_api.failures import RunnerReason as Reason

__all__ = [
    "AGENT_GAVE_UP",
    "BUDGET_EXCEEDED",
    "CONFIG_ERROR",
    "INTERNAL_ERROR",
    "MAX_TURNS",
    "NO_WORK",
    "OVERLOADED",
    "RATE_LIMITED",
    "TIMEOUT",
    "TOOL_ERROR",
    "VERIFY_FAILED",
    "Reason",
    "RunFailure",
]


class RunFailure(Exception):
    """Ends the attempt with a classified reason and a message a person can act on."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"
