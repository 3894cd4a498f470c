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


def test_rules_are_re2_so_a_catastrophic_rule_matches_in_linear_time() -> None:
    # `^(\w+\s?)*$` against 40 word characters and `!` takes Python's `re` minutes.
    profiles = [_profile("evil", r"^(\w+\s?)*$", 1), _profile("ops", "deploy", 2)]
    spec = models.AgentTaskSpec(task_id="T1", title="a" * 40 + "!", description="deploy it")
    chosen = routing.route(spec, profiles, fallback="gp", default_image="i")
    assert chosen.profile_name == "ops"
    long_text = models.AgentTaskSpec(task_id="T1", title="x", description="ab " * 20000 + "!")
    assert routing.route(long_text, profiles, fallback="gp", default_image="i").builtin


def test_a_rule_re2_cannot_compile_is_refused_naming_the_construct() -> None:
    cases = {
        r"(deploy)\1": "a backreference \\1",
        r"deploy(?=ment)": "a lookahead (?=...)",
        r"(?<!re)deploy": "a negative lookbehind (?<!...)",
        r"(?<=re)deploy": "a lookbehind (?<=...)",
        r"(?>deploy)": "an atomic group (?>...)",
        r"deploy++": "a possessive quantifier ++",
        r"(?P<w>x)(?P=w)": "a named backreference (?P=name)",
        r"deploy\Z": "the escape \\Z",
    }
    for rule, construct in cases.items():
        problem = routing.rule_problem(rule)
        assert problem is not None and construct in problem, (rule, problem)
        assert "RE2" in problem
    assert "missing )" in (routing.rule_problem("(deploy") or "")
    too_large = routing.rule_problem(r"\pL{1000}") or ""
    assert "pattern too large" in too_large and "larger than RE2 allows" in too_large
    assert routing.rule_problem(r"(?i)deploy|ship\b") is None
    assert routing.rule_problem(None) is None
    spec = models.AgentTaskSpec(task_id="T1", title="deployment")
    chosen = routing.route(
        spec, [_profile("look", r"deploy(?=ment)", 1)], fallback="gp", default_image="i"
    )
    assert chosen.builtin and chosen.invalid_rules == ("look",)


def test_routes_are_cached_per_task_generation_and_profile_versions() -> None:
    from operator_world import World, profile, task

    world = World(
        profile("ops", match="deploy", order=1),
        task("a", title="deploy the thing"),
        task("b", title="write docs"),
        max_concurrent=1,  # b stays queued, so every pass routes it again
    )
    world.step()
    cache = world.dispatcher.routes
    assert (cache.hits, cache.misses) == (0, 2)
    assert world.status("a").agent_profile == "ops"
    assert world.status("b").phase == "Queued"
    world.step()
    assert (cache.hits, cache.misses) == (1, 2)  # nothing changed: no rule ran
    world.edit_spec("AgentTask", "b", title="deploy docs")  # a new generation
    world.step()
    assert (cache.hits, cache.misses) == (1, 3)
    assert world.status("b").agent_profile == "ops"
    world.edit_spec("AgentProfile", "ops", match="nothing-matches")  # a new resourceVersion
    world.step()
    assert (cache.hits, cache.misses) == (1, 4)
    assert world.status("b").agent_profile == "general-purpose"
    assert len(cache) <= 2


def test_an_invalid_rule_sets_the_profiles_rule_valid_condition_and_a_warning() -> None:
    from operator_world import World, profile, task

    world = World(profile("look", match=r"deploy(?!ment)", order=1), task("a", title="deploy"))
    world.step()
    status = models.AgentProfileStatus.model_validate(
        world.get("AgentProfile", "look").get("status") or {}
    )
    (condition,) = [c for c in status.conditions if c.type == "RuleValid"]
    assert condition.status == "False" and condition.reason == "InvalidRule"
    assert "a negative lookahead (?!...)" in condition.message
    warnings = [e for e in world.events if e.kind == "AgentProfile"]
    assert [e.reason for e in warnings] == ["InvalidRule"]
    routed = next(c for c in world.status("a").conditions if c.type == "Routed")
    assert "look" in routed.message and "RuleValid" in routed.message
    world.step()
    assert len([e for e in world.events if e.kind == "AgentProfile"]) == 1  # once, not per pass
    world.edit_spec("AgentProfile", "look", match="deploy")
    world.step()
    fixed = models.AgentProfileStatus.model_validate(world.get("AgentProfile", "look")["status"])
    assert [c.status for c in fixed.conditions if c.type == "RuleValid"] == ["True"]


def test_a_pass_out_of_time_leaves_unrouted_tasks_for_the_next_pass() -> None:
    import datetime

    from agent_operator import scheduling
    from operator_world import World, profile, task

    world = World(profile("ops", match="deploy"), task("a"), task("b"), task("c"))
    snapshot = world.cache.snapshot()
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cache = routing.RouteCache()
    calls = iter([False, True, True])
    decision = scheduling.decide(
        snapshot, world.config, now, routes=cache, out_of_time=lambda: next(calls)
    )
    assert decision.deferred == 2 and len(decision.dispatches) == 1
    assert decision.next_wake == now  # the next pass at once
    again = scheduling.decide(snapshot, world.config, now, routes=cache, out_of_time=lambda: True)
    assert again.deferred == 2  # only the cached route is usable without time
    full = scheduling.decide(snapshot, world.config, now, routes=cache)
    assert full.deferred == 0 and len(full.dispatches) == 3


def test_gate_text_takes_no_part_in_routing() -> None:
    profiles = routing.ordered([
        _profile("security-specialist", r"\bsecurity\b", 1),
        _profile("database", r"\bschema\b", 2),
    ])
    gated = models.AgentTaskSpec(
        task_id="T1",
        title="Migrate the orders schema (blocked by: security review)",
        description="T1 Migrate the orders schema (blocked by: security review)\n"
        "Blocked by: Security sign-off; then run the migration",
        gates=["security review", "Security sign-off"],
    )
    chosen = routing.route(gated, profiles, fallback="gp", default_image="i")
    assert chosen.profile_name == "database"
    about_security = models.AgentTaskSpec(
        task_id="T2", title="Security review of the schema", description="blocked by: T1"
    )
    assert routing.route(about_security, profiles, fallback="gp", default_image="i").profile_name \
        == "security-specialist"


def test_a_profiles_ready_condition_and_its_events() -> None:
    from agent_operator import scheduling
    from operator_world import World, profile, task

    limits = scheduling.Policy(images=("ghcr.io/coditect-ai/",))
    world = World(
        profile("look", match=r"deploy(?!ment)", order=1),
        profile("foreign", match="docs", image="docker.io/someone/runner:1",
                env=[{"name": "ANTHROPIC_BASE_URL", "value": "https://proxy.example"}]),
        profile("fine", match="tests", image="ghcr.io/coditect-ai/agent-runner:1"),
        profile("plain", image="ghcr.io/coditect-ai/agent-runner:1"),
        task("a", title="write tests"),
        policy=limits,
    )
    world.step()

    def ready(name: str) -> models.Condition:
        status = models.AgentProfileStatus.model_validate(
            world.get("AgentProfile", name).get("status") or {}
        )
        (found,) = [c for c in status.conditions if c.type == "Ready"]
        return found

    look, foreign = ready("look"), ready("foreign")
    assert (look.status, look.reason) == ("False", "InvalidRule")
    assert "a negative lookahead (?!...)" in look.message and "routing skips" in look.message
    assert (foreign.status, foreign.reason) == ("False", "ProfileNotAllowed")
    assert "spec.image 'docker.io/someone/runner:1' (allowed_images)" in foreign.message
    assert "ANTHROPIC_BASE_URL 'https://proxy.example' (allowed_api_urls)" in foreign.message
    assert (ready("fine").status, ready("fine").reason) == ("True", "Valid")
    assert ready("plain").status == "True" and "no spec.match" in ready("plain").message
    events = [(e.name, e.type, e.reason) for e in world.events if e.kind == "AgentProfile"]
    assert sorted(events) == [
        ("foreign", "Warning", "ProfileNotAllowed"), ("look", "Warning", "InvalidRule")
    ]
    assert ready("look").observed_generation == 1

    world.step()  # nothing changed: no new Event, no status write
    assert len([e for e in world.events if e.kind == "AgentProfile"]) == 2

    world.edit_spec("AgentProfile", "look", match="deploy(ment)?")
    world.edit_spec("AgentProfile", "foreign", image="ghcr.io/coditect-ai/agent-runner:1")
    world.step()
    assert ready("look").status == "True"
    foreign = ready("foreign")
    assert (foreign.status, foreign.reason) == ("False", "ProfileNotAllowed")  # the URL still
    assert "spec.image" not in foreign.message
    events = [(e.name, e.type, e.reason) for e in world.events if e.kind == "AgentProfile"]
    assert sorted(events[2:]) == [
        ("foreign", "Warning", "ProfileNotAllowed"), ("look", "Normal", "Valid")
    ]
