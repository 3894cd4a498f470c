"""The Events a pass records: a task's phase transitions and a plan's breaker changes."""

from __future__ import annotations

from agent_api import models

from agent_operator import conditions
from agent_operator.scheduling import reasons
from agent_operator.scheduling.decisions import Event
from agent_operator.scheduling.progress import TaskProgress
from agent_operator.scheduling.snapshot import PlanEntry, PlanScope

EVENT_MESSAGE_LIMIT = 1024


def task_transition(task: TaskProgress) -> Event | None:
    """An Event when the task's phase changed this pass; a Warning when a person is needed."""
    before = task.entry.task.status.phase
    after = task.status.phase
    if before == after:
        return None
    ready = conditions.find(task.status.conditions, conditions.READY)
    warning = after in ("Failed", "Retrying", "Rejected") or (
        after == "Blocked" and ready is not None and ready.reason in reasons.NEEDS_A_PERSON
    )
    return Event(
        namespace=task.namespace,
        kind="AgentTask",
        name=task.meta.name or "",
        uid=task.meta.uid or "",
        type="Warning" if warning else "Normal",
        reason=after or "Pending",
        message=(task.status.message or after or "")[:EVENT_MESSAGE_LIMIT],
    )


def circuit_change(scope: PlanScope, entry: PlanEntry, state: models.CircuitStatus) -> Event:
    """An Event on the plan whose breaker changed state."""
    opened = state.state == "Open"
    return Event(
        namespace=scope[0],
        kind="AgentPlan",
        name=entry.plan.metadata.name or str(scope[1]),
        uid=entry.uid,
        type="Warning" if opened else "Normal",
        reason=f"Circuit{state.state}",
        message=(
            f"circuit breaker open after {state.consecutive_failures} failed "
            f"attempts in a row; one trial attempt at {state.retry_time}"
            if opened
            else f"circuit breaker {state.state}"
        ),
    )
