"""The cache's fast path: a change served with the last complete decision, the plan
documents encoded incrementally, and both equal to what a full recomputation gives."""

from __future__ import annotations

import datetime
import json
import threading
import time
from typing import Any

from agent_console import views
from console_world import T0, fed, job, plan, pod, running, succeeded, task

LATER = T0 + datetime.timedelta(seconds=30)


def encoded_equals_views(feed: Any) -> None:
    model, documents = feed.current_view()

    def dumps(document: Any) -> bytes:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    for namespace in (None, "team", "other"):
        assert documents.plans(namespace) == dumps(views.plans(model, namespace))
    for scope in model.scopes:
        assert documents.plan(*scope) == dumps(views.plan(model, *scope))
    assert documents.plan("team", "nope") is None


def test_a_change_is_served_before_the_decision_and_then_with_it() -> None:
    feed = fed(
        plan(),
        task("a", "T001.001", status=succeeded(T0, 10, job="a-1")),
        task("b", "T001.002", depends_on=("T001.001",), status=running(T0, "b-1")),
        task("c", "T001.003", depends_on=("T001.002",)),
        task("d", "T001.001", plan=None),
        job("b-1", "b"), pod("b-1-abc", "b-1", "b"),
        now=LATER,
    )
    first = feed.refresh()
    encoded_equals_views(feed)
    assert first.status(("team", "c")).phase == "Blocked"

    feed.on_event("AgentTask", "MODIFIED", task("c", "T001.003", depends_on=("T001.002",), status={"phase": "Queued"}))
    feed.on_event("AgentTask", "ADDED", task("e", "T002.001", plan="q"))
    fast = feed._build(feed._decided)  # the view thread's step: no decision run
    assert fast.decision is first.decision and fast.decided is not None
    assert fast.touched == frozenset({("team", "p"), ("team", "q")})
    assert fast.status(("team", "c")).phase == "Queued"  # its own status until decided
    assert fast.status(("team", "b")) is first.status(("team", "b"))
    assert fast.scopes[("team", "-")] is first.scopes[("team", "-")]  # untouched: reused
    encoded_equals_views(feed)

    feed.decide()
    decided = feed._build(feed._decided)
    assert decided.decided is None and decided.decision is not first.decision
    full = feed.refresh()
    assert decided.queue == full.queue
    for key in full.tasks:
        assert decided.status(key) == full.status(key)
    assert decided.status(("team", "c")).phase == "Blocked"  # the decision's again
    encoded_equals_views(feed)

    feed.on_event("AgentTask", "DELETED", task("e", "T002.001", plan="q"))
    feed._build(feed._decided)
    assert ("team", "q") not in feed.model().scopes
    encoded_equals_views(feed)


def test_the_threads_serve_a_change_and_then_the_decision() -> None:
    feed = fed(plan(), task("a", "T001.001"), task("b", "T001.002", depends_on=("T001.001",)))
    feed.debounce_seconds = 0.01
    versions: list[int] = []
    feed.listen(versions.append)
    stop = threading.Event()
    runner = threading.Thread(target=feed.run, args=(stop,))
    runner.start()
    try:
        feed.on_event("AgentTask", "MODIFIED", task("b", "T001.002", depends_on=("T001.001",), status={"phase": "Queued"}))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            model = feed.current_view()
            if model is not None and model[0].decided is None and len(versions) >= 2:
                break
            time.sleep(0.01)
        model, _ = feed.current_view()
        assert model.decided is None  # the decision caught up
        assert model.status(("team", "b")).phase == "Blocked"
        assert versions == sorted(versions)
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
