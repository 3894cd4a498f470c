"""Which profile runs a task, as the pass records it: the routing decision (see
agent_operator.routing), the task's `Routed` condition, and each profile's `RuleValid`
condition (a rule RE2 cannot compile is refused, naming the construct) and `Ready`
condition (its rule compiles and it is within the operator's limits), with an Event when
Ready turns False.

`Router` routes the tasks of one pass: from the `RouteCache` when neither the task nor the
namespace's profiles changed, else by matching the rules, within the pass's time budget.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from agent_api import models

from agent_operator import conditions, routing
from agent_operator.scheduling import events, policy, reasons
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


def profile_conditions(
    snapshot: Snapshot, config: Config, decision: Decision, now: datetime.datetime
) -> None:
    """Each profile's `RuleValid` and `Ready` conditions; changed ones go into the decision.
    A profile whose Ready turns False (or becomes False for another reason) gets a Warning
    Event naming the problem; one that turns True again a Normal Event."""
    for namespace, profiles in snapshot.profiles.items():
        for profile in profiles:
            rule = _rule_validity(profile)
            ready = _readiness(profile, config.policy)
            old_conditions = profile.status.conditions
            generation = profile.metadata.generation
            wanted = {conditions.RULE_VALID: rule, conditions.READY: ready}
            if all(
                _same(old_conditions, kind, value, generation) for kind, value in wanted.items()
            ):
                continue
            updated = profile.status.model_copy()
            for kind, (status, reason, message) in wanted.items():
                updated.conditions = conditions.set_condition(
                    updated.conditions,
                    type=kind,
                    status=status,
                    reason=reason,
                    message=message,
                    generation=generation,
                    now=now,
                )
            name = profile.metadata.name or ""
            decision.profile_statuses[(namespace, name)] = updated
            before = conditions.find(old_conditions, conditions.READY)
            status, reason, message = ready
            if status == "False" and not _same(old_conditions, conditions.READY, ready):
                event_type = "Warning"
            elif status == "True" and before is not None and before.status == "False":
                event_type = "Normal"
            else:
                continue
            decision.events.append(
                Event(
                    namespace=namespace,
                    kind="AgentProfile",
                    name=name,
                    uid=profile.metadata.uid or "",
                    type=event_type,
                    reason=reason,
                    message=message[: events.EVENT_MESSAGE_LIMIT],
                )
            )


Validity = tuple[models.ConditionStatus, str, str]


def _same(
    old: list[models.Condition], kind: str, value: Validity, generation: int | None = None
) -> bool:
    """Whether the condition already says `value` (and, given a generation, was computed
    from that generation of the profile)."""
    found = conditions.find(old, kind)
    if found is None or (found.status, found.reason, found.message) != value:
        return False
    return generation is None or found.observed_generation == generation


def _rule_validity(profile: models.AgentProfile) -> Validity:
    rule = profile.spec.match
    if not rule:
        return "True", reasons.NO_RULE, "no spec.match: only tasks naming this profile use it"
    problem = routing.rule_problem(rule)
    if problem is not None:
        return "False", reasons.INVALID_RULE, f"{problem}; the profile is skipped by routing"
    return "True", reasons.RULE_COMPILED, "spec.match compiles as an RE2 expression"


def _readiness(profile: models.AgentProfile, limits: policy.Policy) -> Validity:
    """Ready: the rule compiles (RE2) and the profile is within the operator's limits."""
    problem = routing.rule_problem(profile.spec.match)
    if problem is not None:
        return (
            "False",
            reasons.INVALID_RULE,
            f"{problem}; routing skips the profile until the rule is fixed (tasks naming it "
            "in spec.agentProfile still use it)",
        )
    outside = policy.profile_problems(profile.spec, limits)
    api = policy.base_url(profile.spec)
    if api is not None and not policy.url_allowed(api, limits.api_urls):
        outside.append(f"env {policy.BASE_URL_ENV} {api!r} (allowed_api_urls)")
    if outside:
        return (
            "False",
            reasons.PROFILE_NOT_ALLOWED,
            f"the profile sets what the operator does not allow: {'; '.join(outside)}; "
            "tasks routed to it are Blocked until the profile is changed or the operator's "
            "administrator widens the limit named",
        )
    return (
        "True",
        reasons.PROFILE_VALID,
        "spec.match compiles as an RE2 expression and the profile is within the operator's "
        "limits"
        if profile.spec.match
        else "no spec.match (only tasks naming this profile use it); the profile is within "
        "the operator's limits",
    )
