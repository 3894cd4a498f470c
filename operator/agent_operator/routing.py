"""Which AgentProfile runs a task.

`spec.agentProfile` wins; then the first profile, by `spec.order` then name, whose rule
matches the task's title or description case-insensitively; then the fallback profile.
The text of `blocked by:` gates takes no part (`agent_api.gates`): what a task waits for
is not what it is about.
Profiles come from the cluster on every decision, so an edited profile applies to every
task not yet dispatched.

Rules are RE2 expressions (google-re2): matching takes time linear in the text, whatever
the rule, so no rule can stall the operator. What RE2 cannot do (backreferences,
look-arounds, atomic groups, possessive quantifiers, conditionals) is refused with a
message naming the construct; such a profile is skipped until its rule is fixed.

A route depends only on the task's spec and on the namespace's profiles, so `RouteCache`
keeps it per (task uid and generation, versions of the namespace's profiles). A profile's
version is its metadata.generation, which only a spec change bumps (the operator's own
writes of its status do not), or its resourceVersion when it has no generation.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from typing import Any

import re2
from agent_api import gates, models


@dataclasses.dataclass(frozen=True)
class Route:
    """The routing decision for one task."""

    profile_name: str
    spec: models.AgentProfileSpec | None  # None: the named profile does not exist
    matched_rule: str  # 'spec.agentProfile', '<profile>: <rule>', or 'fallback'
    builtin: bool = False  # the fallback profile is missing; built-in defaults apply
    invalid_rules: tuple[str, ...] = ()  # profiles skipped because their rule does not compile


# Constructs of Python's `re` (and Perl/PCRE) that RE2 refuses, as a person names them.
# Checked in order against the rule's text; the first that appears names the refusal.
_UNSUPPORTED: tuple[tuple[str, str], ...] = (
    ("(?<=", "a lookbehind (?<=...)"),
    ("(?<!", "a negative lookbehind (?<!...)"),
    ("(?=", "a lookahead (?=...)"),
    ("(?!", "a negative lookahead (?!...)"),
    ("(?>", "an atomic group (?>...)"),
    ("(?P=", "a named backreference (?P=name)"),
    ("(?(", "a conditional group (?(...)...)"),
    ("\\k<", "a named backreference \\k<name>"),
)


def _named_construct(rule: str, engine_message: str) -> str:
    for text, name in _UNSUPPORTED:
        if text in rule:
            return name
    index = 0
    while index < len(rule) - 1:
        if rule[index] == "\\":
            following = rule[index + 1]
            if following.isdigit() and following != "0":
                return f"a backreference \\{following}"
            if following in "ZG":
                return f"the escape \\{following} (use \\z for the end of the text)"
            index += 2
            continue
        if rule[index] in "*+?}" and rule[index + 1] == "+":
            return f"a possessive quantifier {rule[index]}+"
        index += 1
    return engine_message


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=1024)
def compile_rule(rule: str) -> tuple[Any | None, str | None]:
    """The compiled rule, or None and why RE2 refuses it (naming the construct)."""
    try:
        return re2.compile(rule, _OPTIONS), None
    except re2.error as error:
        detail = error.args[0] if error.args else error
        engine = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        construct = _named_construct(rule, engine)
        if construct != engine:
            why = f"{construct} is not supported ({engine})"
        elif "too large" in engine:
            why = (
                f"{engine}: compiled, the rule is larger than RE2 allows; repeat less, or "
                "repeat a narrower character class than a Unicode one such as \\pL"
            )
        else:
            why = engine
        return None, (
            f"spec.match {rule[:200]!r} is not an RE2 expression: {why}; rules are RE2 "
            "syntax, matched in linear time"
        )


def rule_problem(rule: str | None) -> str | None:
    """Why the profile's rule cannot be used, or None (no rule, or a valid one)."""
    if not rule:
        return None
    return compile_rule(rule)[1]


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
    text = gates.without_gate_clauses(f"{task.title}\n{task.description}")
    invalid: list[str] = []
    for profile in profiles_in_order:
        rule = profile.spec.match
        if not rule:
            continue
        pattern, _ = compile_rule(rule)
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
        spec=_builtin_spec(default_image),
        matched_rule="fallback",
        builtin=True,
        invalid_rules=tuple(invalid),
    )


@functools.lru_cache(maxsize=16)
def _builtin_spec(image: str) -> models.AgentProfileSpec:
    """The built-in profile, one instance per image: the route cache holds a route per
    task, and 10,000 copies of the same spec were a tenth of the operator's memory. Routes
    are read, never changed in place."""
    return models.AgentProfileSpec(image=image)


def profiles_version(profiles_in_order: list[models.AgentProfile]) -> tuple[tuple[str, str], ...]:
    """What a route depends on among the profiles: their names and spec versions."""
    return tuple(
        (
            p.metadata.name or "",
            str(p.metadata.generation)
            if p.metadata.generation is not None
            else f"rv{p.metadata.resource_version or ''}",
        )
        for p in profiles_in_order
    )


RouteKey = tuple[str, int | None, tuple[tuple[str, str], ...]]


class RouteCache:
    """Routes kept from one pass to the next, keyed by (task uid, task generation,
    `profiles_version` of its namespace). Entries no pass has used for two passes are
    dropped, so the cache holds about one route per task present."""

    def __init__(self) -> None:
        self._current: dict[RouteKey, Route] = {}
        self._previous: dict[RouteKey, Route] = {}
        self.hits = 0
        self.misses = 0

    def begin_pass(self) -> None:
        self._previous = self._current
        self._current = {}

    def get(self, key: RouteKey) -> Route | None:
        found = self._current.get(key)
        if found is None:
            found = self._previous.pop(key, None)
            if found is not None:
                self._current[key] = found
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: RouteKey, value: Route) -> None:
        self._current[key] = value

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)
