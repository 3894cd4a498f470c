"""Scale: one namespace cannot hold back another, neither with a catastrophic routing rule
nor with a flood of P0 tasks. Real control plane, the operator as its console script."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest

from tests.integration.conftest import kubectl
from tests.integration.test_operator import (  # noqa: F401  (fixtures)
    Operator,
    apply,
    condition,
    free_port,
    ns,
    operators,
    phases,
    profile,
    scrape,
    stages,
    task,
    tasks_by_id,
    ts,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def other_ns(api: kubernetes.client.ApiClient, stages: None) -> Iterator[str]:  # noqa: F811
    """A second namespace (with the API key Secret), deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = kubernetes.client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name, "labels": {"agent-orchestrator-test": "1"}}})
    kubectl(
        "-n", name, "create", "secret", "generic", "anthropic-api-key",
        "--from-literal=ANTHROPIC_API_KEY=sk-test",
    )
    kubectl("-n", name, "label", "secret", "anthropic-api-key",
            "orchestration.coditect.ai/agent-credential=true")
    yield name
    core.delete_namespace(name, propagation_policy="Background")


def _started(namespace: str, task_id: str) -> bool:
    status = tasks_by_id(namespace).get(task_id, {}).get("status") or {}
    return bool(status.get("history")) or status.get("phase") in ("Running", "Succeeded")


def test_a_catastrophic_rule_in_one_namespace_delays_no_other_namespace(
    ns: str,  # noqa: F811
    other_ns: str,
    operators: Callable[..., Operator],  # noqa: F811
) -> None:
    # `^(\w+\s?)*$` against 40 word characters and `!`: exponential for a backtracking
    # engine (Python's `re` takes minutes a task), linear for RE2.
    evil = profile(ns, "evil", match=r"^(\w+\s?)*$", order=1)
    hostile = [
        task(ns, f"evil-{i:02d}", f"T001.{i + 1:03d}", title="a" * 40 + "!", description="b" * 40 + "!")
        for i in range(30)
    ]
    apply(evil, *hostile)
    health = free_port()
    operators(ns, "--namespace", other_ns, "--max-concurrent", "100",
              "--health-port", str(health))
    wait_for("the hostile tasks routed", lambda: all(
        (t.get("status") or {}).get("agentProfile") for t in tasks_by_id(ns).values()
    ) and len(tasks_by_id(ns)) == 30, timeout=60)
    routed = tasks_by_id(ns)["T001.001"]
    assert routed["status"]["agentProfile"] == "general-purpose"  # the rule did not match
    rule_valid = condition(kubectl_json("agentprofile", ns, "evil"), "RuleValid")
    assert rule_valid.get("status") == "True"  # valid RE2: linear, so allowed

    delays = []
    for i in range(3):
        tid = f"T009.{i + 1:03d}"
        apply(task(other_ns, f"calm-{i}", tid, title="write the docs"))
        wait_for("the other namespace's task started", lambda tid=tid: _started(other_ns, tid),
                 timeout=30)
        scrape(health, "/healthz")  # the liveness endpoint answers (within its 5 s timeout)
        started = tasks_by_id(other_ns)[tid]
        # From the API server's creation stamp to the operator's start of the attempt.
        delays.append(
            (ts(started["status"]["history"][0]["startTime"])
             - ts(started["metadata"]["creationTimestamp"])).total_seconds()
        )
    print(f"dispatch delays in the other namespace (task created -> attempt started): "
          f"{[round(d, 2) for d in delays]} s")
    assert max(delays) < 5.0, delays


def test_a_flood_of_p0_tasks_in_one_namespace_does_not_starve_another(
    ns: str,  # noqa: F811
    other_ns: str,
    operators: Callable[..., Operator],  # noqa: F811
) -> None:
    flood = [
        task(ns, f"flood-{i:03d}", f"T001.{i + 1:03d}", priority="P0", title=f"flood {i}")
        for i in range(200)
    ]
    apply(*flood)
    operators(ns, "--namespace", other_ns, "--max-concurrent", "5")
    wait_for("the flood running at the global cap", lambda: sum(
        1 for p in phases(ns).values() if p == "Running"
    ) >= 5, timeout=60)
    created = time.monotonic()
    apply(task(other_ns, "late", "T002.001", priority="P3", title="a late low-priority task"))
    wait_for("the P3 task of the other namespace started",
             lambda: _started(other_ns, "T002.001"), timeout=60)
    waited = time.monotonic() - created
    waiting = sum(1 for p in phases(ns).values() if p in ("Queued", "Pending", None))
    print(f"P3 task of namespace B started {waited:.1f} s after it was created, "
          f"with {waiting} P0 tasks of namespace A still waiting")
    assert waiting > 100  # the flood was still there: B did not just wait it out


def kubectl_json(kind: str, namespace: str, name: str) -> dict[str, Any]:
    return dict(json.loads(kubectl("-n", namespace, "get", kind, name, "-o", "json").stdout))
