"""Which profile runs a task, as the pass records it: the routing decision (see
agent_operator.routing) and the task's `Routed` condition."""

from __future__ import annotations

import datetime

from agent_operator import conditions, routing
from agent_operator.scheduling import reasons
from agent_operator.scheduling.progress import TaskProgress
from agent_operator.scheduling.snapshot import Config, Snapshot

_REASON_BY_RULE = {"spec.agentProfile": reasons.SPEC_AGENT_PROFILE, "fallback": reasons.FALLBACK}


def route_task(
    task: TaskProgress, snapshot: Snapshot, config: Config, now: datetime.datetime
) -> routing.Route:
    """Routes the task and records the profile, the rule and the Routed condition."""
    route = routing.route(
        task.spec,
        snapshot.profiles.get(task.namespace, []),
        fallback=config.fallback_profile,
        default_image=config.default_image,
    )
    task.status.agent_profile = route.profile_name
    task.status.matched_rule = route.matched_rule
    skipped = (
        f" (skipped profiles with an invalid rule: {', '.join(route.invalid_rules)})"
        if route.invalid_rules
        else ""
    )
    if route.spec is None:
        message = (
            f"spec.agentProfile names AgentProfile {route.profile_name!r}, which does not exist "
            f"in namespace {task.namespace!r}: create it or change spec.agentProfile"
        )
        task.set_condition(conditions.ROUTED, "False", reasons.PROFILE_NOT_FOUND, message, now)
    elif route.builtin:
        message = (
            f"no rule matched and the fallback AgentProfile {route.profile_name!r} does not "
            f"exist: using built-in defaults{skipped}"
        )
        task.set_condition(conditions.ROUTED, "True", reasons.BUILTIN_FALLBACK, message, now)
    else:
        reason = _REASON_BY_RULE.get(route.matched_rule, reasons.RULE_MATCHED)
        message = f"profile {route.profile_name!r} chosen by {route.matched_rule}{skipped}"
        task.set_condition(conditions.ROUTED, "True", reason, message, now)
    return route
