"""Which AgentProfile runs a task.

`spec.agentProfile` wins; then the first profile, by `spec.order` then name, whose rule
(a regular expression) matches the task's title or description case-insensitively; then
the fallback profile. Profiles come from the cluster on every decision, so an edited
profile applies to every task not yet dispatched.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable

from agent_api import models


@dataclasses.dataclass(frozen=True)
class Route:
    """The routing decision for one task."""

    profile_name: str
    spec: models.AgentProfileSpec | None  # None: the named profile does not exist
    matched_rule: str  # 'spec.agentProfile', '<profile>: <rule>', or 'fallback'
    builtin: bool = False  # the fallback profile is missing; built-in defaults apply
    invalid_rules: tuple[str, ...] = ()  # profiles skipped because their rule does not compile


@functools.lru_cache(maxsize=1024)
def _compile(rule: str) -> re.Pattern[str] | None:
    try:
        return re.compile(rule, re.IGNORECASE)
    except re.error:
        return None


def ordered(profiles: Iterable[models.AgentProfile]) -> list[models.AgentProfile]:
    """Profiles in rule evaluation order: spec.order, then name."""
    return sorted(profiles, key=lambda p: (p.spec.order, p.metadata.name or ""))


def route(
    task: models.AgentTaskSpec,
    profiles_in_order: list[models.AgentProfile],
    *,
    fallback: str,
    default_image: str,
) -> Route:
    """Chooses the profile for `task` among the namespace's profiles (already ordered)."""
    by_name = {p.metadata.name: p for p in profiles_in_order}
    if task.agent_profile:
        chosen = by_name.get(task.agent_profile)
        return Route(
            profile_name=task.agent_profile,
            spec=chosen.spec if chosen is not None else None,
            matched_rule="spec.agentProfile",
        )
    text = f"{task.title}\n{task.description}"
    invalid: list[str] = []
    for profile in profiles_in_order:
        rule = profile.spec.match
        if not rule:
            continue
        pattern = _compile(rule)
        if pattern is None:
            invalid.append(profile.metadata.name or "")
            continue
        if pattern.search(text):
            return Route(
                profile_name=profile.metadata.name or "",
                spec=profile.spec,
                matched_rule=f"{profile.metadata.name}: {rule}"[:1024],
                invalid_rules=tuple(invalid),
            )
    chosen = by_name.get(fallback)
    if chosen is not None:
        return Route(
            profile_name=fallback,
            spec=chosen.spec,
            matched_rule="fallback",
            invalid_rules=tuple(invalid),
        )
    return Route(
        profile_name=fallback,
        spec=models.AgentProfileSpec(image=default_image),
        matched_rule="fallback",
        builtin=True,
        invalid_rules=tuple(invalid),
    )
