"""Which profile runs a task, as the pass records it: the routing decision (see
agent_operator.routing), the task's `Routed` condition, and each profile's `RuleValid`
condition (a rule RE2 cannot compile is refused, naming the construct).

`Router` routes the tasks of one pass: from the `RouteCache` when neither the task nor the
namespace's profiles changed, else by matching the rules, within the pass's time budget.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from agent_api import models

from agent_operator import conditions, routing
from agent_operator.scheduling import reasons
from agent_operator.scheduling.decisions import Decision, Event
from agent_operator.scheduling.progress import TaskProgress
from agent_operator.scheduling.snapshot import Config, Snapshot

_REASON_BY_RULE = {"spec.agentProfile": reasons.SPEC_AGENT_PROFILE, "fallback": reasons.FALLBACK}


class Router:
    """Routes the tasks of one pass. `out_of_time` (None: never) says when the pass's time
    budget is spent: a task whose route is not cached is then left for the next pass."""

    def __init__(
        self,
        snapshot: Snapshot,
        config: Config,
        cache: routing.RouteCache | None = None,
        out_of_time: Callable[[], bool] | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._config = config
        self._cache = cache
        self._out_of_time = out_of_time
        self._versions: dict[str, tuple[tuple[str, str], ...]] = {}
        self.deferred = 0  # tasks left unrouted for lack of time
        if cache is not None:
            cache.begin_pass()

    def route(self, task: TaskProgress) -> routing.Route | None:
        """The task's route; None when it is not cached and the budget is spent."""
        profiles = self._snapshot.profiles.get(task.namespace, [])
        key: routing.RouteKey | None = None
        if self._cache is not None and task.meta.uid:
            versions = self._versions.get(task.namespace)
            if versions is None:
                versions = self._versions[task.namespace] = routing.profiles_version(profiles)
            key = (task.meta.uid, task.meta.generation, versions)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        if self._out_of_time is not None and self._out_of_time():
            self.deferred += 1
            return None
        found = routing.route(
            task.spec,
            profiles,
            fallback=self._config.fallback_profile,
            default_image=self._config.default_image,
        )
        if key is not None and self._cache is not None:
            self._cache.put(key, found)
        return found


def route_task(
    task: TaskProgress,
    snapshot: Snapshot,
    config: Config,
    now: datetime.datetime,
    router: Router | None = None,
) -> routing.Route | None:
    """Routes the task and records the profile, the rule and the Routed condition; None
    (nothing recorded) when the router ran out of time."""
    route = (router or Router(snapshot, config)).route(task)
    if route is None:
        return None
    task.status.agent_profile = route.profile_name
    task.status.matched_rule = route.matched_rule
    skipped = (
        f" (skipped profiles with an invalid rule: {', '.join(route.invalid_rules)}; "
        "their RuleValid condition says why)"
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


def rule_conditions(snapshot: Snapshot, decision: Decision, now: datetime.datetime) -> None:
    """Each profile's RuleValid condition; a changed one goes into the decision (and a rule
    newly refused gets a Warning Event on the profile)."""
    for namespace, profiles in snapshot.profiles.items():
        for profile in profiles:
            status, reason, message = _rule_validity(profile)
            old = conditions.find(profile.status.conditions, conditions.RULE_VALID)
            if old is not None and (old.status, old.reason, old.message) == (
                status,
                reason,
                message,
            ):
                continue
            name = profile.metadata.name or ""
            updated = profile.status.model_copy()
            updated.conditions = conditions.set_condition(
                profile.status.conditions,
                type=conditions.RULE_VALID,
                status=status,
                reason=reason,
                message=message,
                generation=profile.metadata.generation,
                now=now,
            )
            decision.profile_statuses[(namespace, name)] = updated
            if status == "False":
                decision.events.append(
                    Event(
                        namespace=namespace,
                        kind="AgentProfile",
                        name=name,
                        uid=profile.metadata.uid or "",
                        type="Warning",
                        reason=reasons.INVALID_RULE,
                        message=message,
                    )
                )


def _rule_validity(profile: models.AgentProfile) -> tuple[models.ConditionStatus, str, str]:
    rule = profile.spec.match
    if not rule:
        return "True", reasons.NO_RULE, "no spec.match: only tasks naming this profile use it"
    problem = routing.rule_problem(rule)
    if problem is not None:
        return "False", reasons.INVALID_RULE, f"{problem}; the profile is skipped by routing"
    return "True", reasons.RULE_COMPILED, "spec.match compiles as an RE2 expression"
