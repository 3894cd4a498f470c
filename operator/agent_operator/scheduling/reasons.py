"""The reasons of task conditions, one constant and one wording each.

`Ready=False` reasons say why a task waits (the readiness checks); `Ready=True` reasons say
what a ready task waits for; `Succeeded` and `Routed` reasons say how a run or the routing
ended. docs/troubleshooting.md says what a person does about each.
"""

from __future__ import annotations

from typing import Final

# --- Ready=False: something holds the task back (readiness checks, in this order)
SUSPENDED: Final = "Suspended"
PLAN_NOT_FOUND: Final = "PlanNotFound"
PLAN_PAUSED: Final = "PlanPaused"
CYCLE: Final = "Cycle"
DEPENDENCY_FAILED: Final = "DependencyFailed"
DEPENDENCY_MISSING: Final = "DependencyMissing"
WAITING_FOR_DEPENDENCIES: Final = "WaitingForDependencies"
GATED: Final = "Gated"
PROFILE_NOT_FOUND: Final = "ProfileNotFound"
PROFILE_NOT_ALLOWED: Final = "ProfileNotAllowed"
URL_NOT_ALLOWED: Final = "URLNotAllowed"
CREDENTIAL_NOT_ALLOWED: Final = "CredentialNotAllowed"
SECRET_MISSING: Final = "SecretMissing"
CHECKING_SECRET: Final = "CheckingSecret"  # not read for this pass yet: the next reads it
BUDGET_EXHAUSTED: Final = "BudgetExhausted"  # the task's or its plan's budget is used up
CIRCUIT_OPEN: Final = "CircuitOpen"
MARKED_DONE: Final = "MarkedDone"

# Blocks a person must resolve: their transition Event is a Warning.
NEEDS_A_PERSON: Final = frozenset(
    {
        PLAN_NOT_FOUND,
        DEPENDENCY_MISSING,
        DEPENDENCY_FAILED,
        CYCLE,
        PROFILE_NOT_FOUND,
        PROFILE_NOT_ALLOWED,
        URL_NOT_ALLOWED,
        CREDENTIAL_NOT_ALLOWED,
        SECRET_MISSING,
    }
)

# --- Ready=True: ready, and what it waits for
DEPENDENCIES_MET: Final = "DependenciesMet"
JOB_CREATE_FAILED: Final = "JobCreateFailed"

# --- Succeeded
ATTEMPT_SUCCEEDED: Final = "AttemptSucceeded"
AWAITING_REVIEW: Final = "AwaitingReview"  # succeeded; its pull request is not merged yet
PULL_REQUEST_MERGED: Final = "PullRequestMerged"
PULL_REQUEST_CLOSED: Final = "PullRequestClosed"  # closed without merge: Rejected
RUNNING: Final = "Running"
NEW_RUN: Final = "NewRun"

# --- Routed
RULE_MATCHED: Final = "RuleMatched"
SPEC_AGENT_PROFILE: Final = "SpecAgentProfile"
FALLBACK: Final = "Fallback"
BUILTIN_FALLBACK: Final = "BuiltinFallback"

# --- why a running attempt was cancelled (the attempt record's reason)
CANCELLED_SUSPENDED: Final = SUSPENDED
CANCELLED_MARKED_DONE: Final = MARKED_DONE

# --- an AgentPlan's BudgetExhausted condition
TOTAL_BUDGET_USED: Final = "TotalBudgetUsed"
DAILY_BUDGET_USED: Final = "DailyBudgetUsed"
WITHIN_BUDGET: Final = "WithinBudget"
NO_BUDGET: Final = "NoBudget"

# --- an AgentProfile's RuleValid condition
RULE_COMPILED: Final = "RuleCompiled"
NO_RULE: Final = "NoRule"
INVALID_RULE: Final = "InvalidRule"

# --- an AgentProfile's Ready condition: False with INVALID_RULE or PROFILE_NOT_ALLOWED
PROFILE_VALID: Final = "Valid"
