"""AgentProfiles on the real control plane: the operator's `Ready` condition and its
Events (the rule compiles under the operator's RE2, the profile is within the operator's
limits), and routing that reads a task's title and description, not its gate text.

What the API server itself refuses at admission is in test_crds.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from . import test_operator as base
from .conftest import kubectl
from .test_operator import Operator, apply, condition, profile, task, tasks_by_id, wait_for

stages = base.stages
ns = base.ns
operators = base.operators

pytestmark = pytest.mark.integration

ALLOWED_IMAGE = "ghcr.io/coditect-ai/agent-runner:test"
# A rule the API server's engine (Go's regexp) accepts and the operator's (google-re2)
# refuses: compiled to bytes, a thousand Unicode letter classes exceed RE2's memory budget.
TOO_LARGE = r"\pL{1000}"


def profile_of(ns: str, name: str) -> dict[str, Any]:
    return dict(json.loads(kubectl("-n", ns, "get", "agentprofile", name, "-o", "json").stdout))


def ready(ns: str, name: str) -> dict[str, Any]:
    return condition(profile_of(ns, name), "Ready")


def events_of(ns: str, name: str) -> list[tuple[str, str, str]]:
    out = kubectl(
        "-n", ns, "get", "events", "-o", "json",
        "--field-selector", f"involvedObject.kind=AgentProfile,involvedObject.name={name}",
    ).stdout
    return [(e["type"], e["reason"], e.get("message", "")) for e in json.loads(out)["items"]]


def test_a_profiles_ready_condition_and_events(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        profile(ns, "large", match=TOO_LARGE, image=ALLOWED_IMAGE),
        profile(ns, "foreign", match="docs", image="docker.io/someone/runner:1"),
        profile(ns, "fine", match="tests", image=ALLOWED_IMAGE),
        task(ns, "docs-t", "T1", title="write the docs"),
    )
    operators(ns, env={})  # the operator's own limits: images from ghcr.io/coditect-ai/ only

    wait_for("every profile's Ready condition", lambda: all(
        ready(ns, name) for name in ("large", "foreign", "fine")
    ))
    large, foreign, fine = ready(ns, "large"), ready(ns, "foreign"), ready(ns, "fine")
    assert (large["status"], large["reason"]) == ("False", "InvalidRule")
    assert "pattern too large" in large["message"]
    assert "routing skips the profile" in large["message"]
    assert condition(profile_of(ns, "large"), "RuleValid")["status"] == "False"
    assert (foreign["status"], foreign["reason"]) == ("False", "ProfileNotAllowed")
    assert "spec.image 'docker.io/someone/runner:1' (allowed_images)" in foreign["message"]
    assert (fine["status"], fine["reason"]) == ("True", "Valid")
    assert large["observedGeneration"] == profile_of(ns, "large")["metadata"]["generation"]

    wait_for("the Warning Events", lambda: bool(events_of(ns, "large"))
             and bool(events_of(ns, "foreign")))
    assert [e[:2] for e in events_of(ns, "large")] == [("Warning", "InvalidRule")]
    assert [e[:2] for e in events_of(ns, "foreign")] == [("Warning", "ProfileNotAllowed")]
    assert events_of(ns, "fine") == []
    # The profile's tasks say the same: routed past the bad rule, blocked by the limits.
    wait_for("T1 blocked by its profile's limits", lambda: condition(
        tasks_by_id(ns)["T1"], "Ready").get("reason") == "ProfileNotAllowed")

    listing = kubectl("-n", ns, "get", "agentprofiles").stdout.splitlines()
    assert listing[0].split() == ["NAME", "MODEL", "MATCH", "MAX", "READY", "AGE"]
    assert any(line.split()[0] == "foreign" and "False" in line.split() for line in listing)

    kubectl("-n", ns, "patch", "agentprofile", "foreign", "--type=merge",
            "-p", json.dumps({"spec": {"image": ALLOWED_IMAGE}}))
    wait_for("foreign Ready again", lambda: ready(ns, "foreign").get("status") == "True")
    wait_for("its Normal Event", lambda: ("Normal", "Valid") in
             [e[:2] for e in events_of(ns, "foreign")])
    wait_for("T1 no longer blocked by the profile", lambda: condition(
        tasks_by_id(ns)["T1"], "Ready").get("reason") != "ProfileNotAllowed")


def test_gate_text_takes_no_part_in_routing(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        profile(ns, "security-specialist", match=r"\bsecurity\b", order=1),
        profile(ns, "database-architect", match=r"\b(schema|database)\b", order=2),
        task(ns, "gated", "T1", title="Migrate the orders schema (blocked by: security review)",
             description="Blocked by: security sign-off\nMove the orders table to the new "
             "schema.", gates=["security review", "security sign-off"]),
        task(ns, "ungated", "T2", title="Migrate the users schema",
             description="Ship it; blocked by: the security team's review"),
        task(ns, "about", "T3", title="Security review of the new schema"),
    )
    operators(ns)

    def routed() -> dict[str, str | None]:
        return {tid: (t.get("status") or {}).get("agentProfile")
                for tid, t in tasks_by_id(ns).items()}

    wait_for("all three routed", lambda: all(routed().values()) and len(routed()) == 3)
    assert routed() == {
        "T1": "database-architect", "T2": "database-architect", "T3": "security-specialist"
    }
    assert tasks_by_id(ns)["T1"]["status"]["matchedRule"] == (
        r"database-architect: \b(schema|database)\b"
    )
