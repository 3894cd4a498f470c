"""Every scheduling decision, as one pure function of a snapshot of the cluster.

`decide(snapshot, config, now)` takes all tasks, plans, profiles and attempt Jobs (plus the
reports of Jobs that just finished) and returns the status every task and plan should have,
the Jobs to create and the Jobs to delete. It reads no clock and calls no API, so a crash at
any point loses nothing: the next pass recomputes the same decisions from what the cluster
holds.

One concern per module:

| module | concern |
|---|---|
| `snapshot` | what a pass reads (the cache builds it) and the settings |
| `decisions` | what a pass decides |
| `progress` | a task while the pass works on it |
| `attempts` | attempt records vs. Jobs, how an attempt ended, retry policy |
| `settling` | done, finished and rerun tasks |
| `reviews` | merge gates: tasks whose pull request awaits review |
| `profiles` | the routing decision as the task's `Routed` condition |
| `readiness` | the chain of checks that may hold a task back |
| `budgets` | spend per task and plan, each attempt's allowance, used-up budgets |
| `policy` | what agents may be given: credentials, URLs, profile limits |
| `capacity` | queue order, caps, the breaker's hold |
| `starting` | the attempt's context, Job and status |
| `plans` | breakers, plan statuses, ownerReferences |
| `events` | the Events of a pass |
| `inputs` | what the gatherer must fetch for a pass |
| `reasons` | the condition reasons |
| `passes` | `decide`, composing the above |
"""

from agent_operator.scheduling.decisions import (
    Cancel,
    Decision,
    Dispatch,
    Event,
    FinishedAttempt,
    Release,
    ReviewOutcome,
)
from agent_operator.scheduling.inputs import (
    PullToCheck,
    jobs_to_confirm,
    pulls_to_check,
    reports_needed,
    secrets_needed,
    start_check_due,
    starts_to_check,
)
from agent_operator.scheduling.passes import decide
from agent_operator.scheduling.policy import Policy, SecretMeta
from agent_operator.scheduling.snapshot import (
    NO_PLAN,
    Config,
    PlanEntry,
    PlanScope,
    PullObservation,
    Snapshot,
    TaskEntry,
    TaskKey,
)
from agent_operator.scheduling.starting import status_after_refused_create

__all__ = [
    "NO_PLAN",
    "Cancel",
    "Config",
    "Decision",
    "Dispatch",
    "Event",
    "FinishedAttempt",
    "PlanEntry",
    "PlanScope",
    "Policy",
    "PullObservation",
    "PullToCheck",
    "Release",
    "ReviewOutcome",
    "SecretMeta",
    "Snapshot",
    "TaskEntry",
    "TaskKey",
    "decide",
    "jobs_to_confirm",
    "pulls_to_check",
    "reports_needed",
    "secrets_needed",
    "start_check_due",
    "starts_to_check",
    "status_after_refused_create",
]
