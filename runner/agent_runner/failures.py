"""Why an attempt failed, as one closed vocabulary shared by the report and the exit code.

The operator decides whether to retry from the reason alone, so every way the runner can
end badly is mapped onto exactly one of these names before it leaves the process.
"""

from __future__ import annotations

from typing import Final, Literal

Reason = Literal[
    "ConfigError",
    "RateLimited",
    "Overloaded",
    "Timeout",
    "MaxTurns",
    "AgentGaveUp",
    "ToolError",
    "InternalError",
]

CONFIG_ERROR: Final = "ConfigError"
RATE_LIMITED: Final = "RateLimited"
OVERLOADED: Final = "Overloaded"
TIMEOUT: Final = "Timeout"
MAX_TURNS: Final = "MaxTurns"
AGENT_GAVE_UP: Final = "AgentGaveUp"
TOOL_ERROR: Final = "ToolError"
INTERNAL_ERROR: Final = "InternalError"


class RunFailure(Exception):
    """Ends the attempt with a classified reason and a message a person can act on."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"
