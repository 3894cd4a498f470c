"""The one way conditions are written, so their times and generations stay honest.

`lastTransitionTime` changes only when a condition's status flips (Kubernetes API
conventions); `observedGeneration` always records the generation the condition was
computed from.
"""

from __future__ import annotations

import datetime
import itertools

from agent_api import models, timefmt

READY = "Ready"  # a task's: nothing holds it back; a profile's: routing may use it
ROUTED = "Routed"
SUCCEEDED = "Succeeded"
CIRCUIT_OPEN = "CircuitOpen"
COMPLETE = "Complete"
BUDGET_EXHAUSTED = "BudgetExhausted"  # an AgentPlan's: no attempt starts for its budget
RULE_VALID = "RuleValid"  # an AgentProfile's: its spec.match compiles as RE2


def set_condition(
    conditions: list[models.Condition],
    *,
    type: str,
    status: models.ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime.datetime,
) -> list[models.Condition]:
    """Returns the list with the condition of `type` set; the input is not changed (and
    is returned as it is when the condition already reads so)."""
    previous = find(conditions, type)
    transition = (
        previous.last_transition_time
        if previous is not None and previous.status == status and previous.last_transition_time
        else timefmt.format_time(now)
    )
    if (
        previous is not None
        and previous.status == status
        and previous.reason == reason
        and previous.message == message[:32768]
        and previous.observed_generation == generation
        and previous.last_transition_time == transition
        and all(a.type < b.type for a, b in itertools.pairwise(conditions))
    ):
        return conditions  # unchanged: a pass over 10,000 tasks makes no new objects
    updated = models.Condition(
        type=type,
        status=status,
        reason=reason,
        message=message[:32768],
        last_transition_time=transition,
        observed_generation=generation,
    )
    result = [c for c in conditions if c.type != type]
    result.append(updated)
    result.sort(key=lambda c: c.type)
    return result


def find(conditions: list[models.Condition], type: str) -> models.Condition | None:
    """The condition of `type`, if present."""
    for condition in conditions:
        if condition.type == type:
            return condition
    return None
