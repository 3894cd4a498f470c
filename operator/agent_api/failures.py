"""Why an attempt ended: one closed vocabulary shared by the runner and the operator.

The runner ends every attempt with one of the runner reasons, in its report and as its
process exit code; the operator adds the reasons only the cluster can tell (the Job's
deadline, a deleted Job or pod). Whether a failed attempt is tried again is decided from
the reason alone, here.
"""

from __future__ import annotations

from typing import Final, Literal

# --- reported by the runner (report `reason` and exit code)
SUCCEEDED: Final = "Succeeded"
CONFIG_ERROR: Final = "ConfigError"
RATE_LIMITED: Final = "RateLimited"
OVERLOADED: Final = "Overloaded"
TIMEOUT: Final = "Timeout"
MAX_TURNS: Final = "MaxTurns"
AGENT_GAVE_UP: Final = "AgentGaveUp"
TOOL_ERROR: Final = "ToolError"
INTERNAL_ERROR: Final = "InternalError"
VERIFY_FAILED: Final = "VerifyFailed"  # the completion checks failed, after a wrap-up round
NO_WORK: Final = "NoWork"  # no model turn, no token, or no change where one was expected
BUDGET_EXCEEDED: Final = "BudgetExceeded"  # the attempt's allowance (cost or tokens) is used

RunnerReason = Literal[
    "ConfigError",
    "RateLimited",
    "Overloaded",
    "Timeout",
    "MaxTurns",
    "AgentGaveUp",
    "ToolError",
    "InternalError",
    "VerifyFailed",
    "NoWork",
    "BudgetExceeded",
]

EXIT_CODES: Final[dict[str, int]] = {
    SUCCEEDED: 0,
    INTERNAL_ERROR: 1,
    CONFIG_ERROR: 2,
    RATE_LIMITED: 3,
    OVERLOADED: 4,
    TIMEOUT: 5,
    MAX_TURNS: 6,
    AGENT_GAVE_UP: 7,
    TOOL_ERROR: 8,
    VERIFY_FAILED: 9,
    NO_WORK: 10,
    BUDGET_EXCEEDED: 11,
}
"""The runner's exit code per outcome; the operator reads the code first, then the report."""

REASON_BY_EXIT_CODE: Final[dict[int, str]] = {
    code: reason for reason, code in EXIT_CODES.items() if code != 0
}

# --- recorded by the operator from what the cluster says
DEADLINE_EXCEEDED: Final = "DeadlineExceeded"  # the Job's activeDeadlineSeconds passed
JOB_DELETED: Final = "JobDeleted"  # the Job vanished before the attempt finished
POD_DELETED: Final = "PodDeleted"  # the Job failed with no pod left to read
JOB_FAILED: Final = "JobFailed"  # the Job failed and nothing says why
DISRUPTED: Final = "Disrupted"  # the cluster ended the pod (eviction, drain, preemption)
OUT_OF_MEMORY: Final = "OutOfMemory"  # the agent container was OOM-killed
# An attempt whose pod never started, ended after the profile's startTimeoutSeconds:
IMAGE_PULL_FAILED: Final = "ImagePullFailed"  # ErrImagePull, ImagePullBackOff, bad name
CONTAINER_CONFIG_ERROR: Final = "ContainerConfigError"  # e.g. a missing Secret key
UNSCHEDULABLE: Final = "Unschedulable"  # no node fits (the scheduler's message)
POD_CREATE_REFUSED: Final = "PodCreateRefused"  # quota or admission refused the pod
START_TIMEOUT: Final = "StartTimeout"  # not started, and nothing says why
# A successful attempt that reported no pull request where the plan's spec.review needs one
NO_PULL_REQUEST: Final = "NoPullRequest"

NOT_STARTED: Final[frozenset[str]] = frozenset(
    {IMAGE_PULL_FAILED, CONTAINER_CONFIG_ERROR, UNSCHEDULABLE, POD_CREATE_REFUSED, START_TIMEOUT}
)
"""Reasons of attempts whose pod never started."""

NOT_THE_AGENTS: Final[frozenset[str]] = frozenset({DISRUPTED})
"""Failures the cluster caused: counted neither against maxRetries nor by the breaker."""

RETRIED: Final[frozenset[str]] = frozenset(
    {
        RATE_LIMITED,
        OVERLOADED,
        TIMEOUT,
        TOOL_ERROR,
        INTERNAL_ERROR,
        MAX_TURNS,
        AGENT_GAVE_UP,
        VERIFY_FAILED,
        NO_WORK,
    }
)
"""Runner reasons a new attempt may fix. MaxTurns, AgentGaveUp, VerifyFailed and NoWork
are worth a retry because the next prompt carries the failure (for VerifyFailed, the
checks' output) and the branch keeps the work done so far."""

NOT_RETRIED: Final[frozenset[str]] = frozenset(
    {CONFIG_ERROR, CONTAINER_CONFIG_ERROR, POD_CREATE_REFUSED, BUDGET_EXCEEDED, NO_PULL_REQUEST}
)
"""Reasons a retry cannot fix: the same input fails the same way, so the task fails at once
until a person fixes the cause (for BudgetExceeded: raises a budget and reruns the task).
Other reasons the operator records (and unknown ones) are retried."""


def is_retried(reason: str | None) -> bool:
    """Whether a failed attempt with this reason may be tried again (within maxRetries)."""
    return reason not in NOT_RETRIED


def reason_for_exit_code(code: int) -> str | None:
    """The runner reason an exit code stands for; None for 0 and for unknown codes."""
    return REASON_BY_EXIT_CODE.get(code)
