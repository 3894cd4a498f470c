"""Routing: which AgentProfile runs a task."""

from __future__ import annotations

from agent_api import models
from agent_operator import routing


def _profile(name: str, match: str | None, order: int = 100) -> models.AgentProfile:
    return models.AgentProfile(metadata={"name": name}, spec={"match": match, "order": order})


def test_routing_order_case_and_invalid_rules() -> None:
    profiles = routing.ordered(
        [_profile("b", "deploy", 10), _profile("a", "DEPLOY", 10), _profile("bad", "(", 1)]
    )
    spec = models.AgentTaskSpec(task_id="T1", title="Deploy it")
    chosen = routing.route(spec, profiles, fallback="general-purpose", default_image="img")
    assert chosen.profile_name == "a"  # same order: by name
    assert chosen.invalid_rules == ("bad",)
    other = models.AgentTaskSpec(task_id="T1", title="x", description="nothing to see")
    fallback = routing.route(other, profiles, fallback="general-purpose", default_image="img")
    assert fallback.builtin and fallback.spec is not None and fallback.spec.image == "img"
    named = models.AgentTaskSpec(task_id="T1", title="Deploy", agent_profile="b")
    assert routing.route(named, profiles, fallback="gp", default_image="i").profile_name == "b"
