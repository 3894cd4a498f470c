"""The API's documents over a fed cache: the queue and its reasons come from the
operator's decision, and every document fits its published schema."""

from __future__ import annotations

import datetime

import pytest
from agent_console import schemas, views
from console_world import T0, event, fed, job, plan, pod, running, succeeded, task

LATER = T0 + datetime.timedelta(seconds=30)


def test_ready_tasks_are_queued_p0_first_then_oldest_and_the_rest_say_why() -> None:
    model = fed(
        plan(),
        task("old-p2", "T001.001", created=T0),
        task("new-p0", "T001.002", created=LATER, priority="P0"),
        task("new-p2", "T001.003", created=LATER),
        task("dep", "T001.004", depends_on=("T001.001",)),
        task("missing", "T001.005", depends_on=("T009.009",)),
        task("held", "T001.006", suspend=True),
        task("gated", "T001.007", gates=["Infrastructure FDB operational"]),
        max_concurrent=2,
    ).refresh()
    document = views.queue(model)
    schemas.Queue.model_validate(document)
    assert [(e["task"], e["startsNow"]) for e in document["ready"]] == [
        ("new-p0", True), ("old-p2", True), ("new-p2", False),
    ]
    assert "global cap of 2" in document["ready"][2]["message"]
    why = {e["task"]: (e["reason"], e["blockedBy"]) for e in document["waiting"]}
    assert why == {
        "dep": ("WaitingForDependencies", ["T001.001"]),
        "missing": ("DependencyMissing", ["T009.009"]),
        "held": ("Suspended", []),
        "gated": ("Gated", ["Infrastructure FDB operational"]),
    }


def test_a_paused_plan_holds_its_tasks() -> None:
    model = fed(plan(paused=True), task("a", "T001.001")).refresh()
    document = views.queue(model)
    assert document["ready"] == []
    assert document["waiting"][0]["reason"] == "PlanPaused"


def test_the_decisions_own_queue_is_used_when_it_has_one() -> None:
    model = fed(plan(), task("a", "T001.001"), task("b", "T001.002")).refresh()
    model.decision.queue = [("team", "b"), ("team", "a")]  # type: ignore[attr-defined]
    tasks = model.tasks
    assert views.ready_queue(model.decision, tasks, frozenset()) == [("team", "b"), ("team", "a")]


def test_plan_summary_counts_spend_rate_and_eta() -> None:
    now = T0 + datetime.timedelta(minutes=30)
    model = fed(
        plan(),
        task("a", "T001.001", status=succeeded(T0, 300, cost=0.25, tokens=(1000, 100))),
        task("b", "T001.002", status=succeeded(T0 + datetime.timedelta(minutes=5), 300,
                                                cost=0.75, tokens=(2000, 200))),
        task("c", "T001.003", depends_on=("T001.002",)),
        task("d", "T001.004", depends_on=("T001.003",)),
        now=now,
    ).refresh()
    document = views.plans(model)
    schemas.PlanList.model_validate(document)
    [summary] = document["items"]
    assert summary["progress"] == "2/4"
    assert summary["percent"] == 50.0
    assert summary["counts"]["succeeded"] == 2 and summary["counts"]["pending"] == 2
    assert summary["tokens"] == {"input": 3000, "output": 300}
    assert summary["costUSD"] == pytest.approx(1.0)
    # 2 successes in the 30 minutes since the first start: 4 per hour, 2 left: 30 minutes.
    assert summary["tasksPerHour"] == pytest.approx(4.0)
    assert summary["eta"] == "2025-03-01T13:00:00.000000Z"


def test_plan_summary_shows_the_budget_and_a_used_up_one_holds_the_tasks() -> None:
    model = fed(
        plan(budget={"maxCostUSD": 1.0, "dailyCostUSD": 5.0}),
        task("a", "T001.001", status=succeeded(T0, 300, cost=1.0)),
        task("b", "T001.002"),
        now=T0 + datetime.timedelta(minutes=30),
    ).refresh()
    document = views.plans(model)
    schemas.PlanList.model_validate(document)
    budget = document["items"][0]["budget"]
    assert budget["exhausted"] is True
    assert budget["total"] == {
        "limitUSD": 1.0, "spentUSD": 1.0, "reservedUSD": 0.0, "remainingUSD": 0.0
    }
    assert budget["daily"]["remainingUSD"] == 4.0  # recorded on T0's day, "today"
    waiting = {e["task"]: e["reason"] for e in views.queue(model)["waiting"]}
    assert waiting == {"b": "BudgetExhausted"}
    without = fed(plan(), task("a", "T001.001")).refresh()
    assert views.plans(without)["items"][0]["budget"] is None


def test_tasks_without_a_plan_form_the_default_plan() -> None:
    model = fed(task("loose", "T001.001", plan=None)).refresh()
    assert [(p["name"], p["exists"], p["total"]) for p in views.plans(model)["items"]] == [
        ("-", False, 1)
    ]


def test_plan_detail_lists_tasks_with_their_readiness() -> None:
    model = fed(
        plan(),
        task("a", "T001.001", status=running(T0, "a-1")),
        task("b", "T001.002", depends_on=("T001.001",)),
        job("a-1", "a"),
        now=LATER,
    ).refresh()
    document = views.plan(model, "team", "p")
    assert document is not None
    schemas.PlanDetail.model_validate(document)
    rows = {r["taskId"]: r for r in document["tasks"]}
    assert rows["T001.001"]["phase"] == "Running"
    assert rows["T001.001"]["history"][0]["durationSeconds"] == 30.0
    assert rows["T001.002"]["blockedBy"] == ["T001.001"]
    assert rows["T001.002"]["reason"] == "WaitingForDependencies"
    assert views.plan(model, "team", "nope") is None


def test_task_detail_has_attempts_result_events_and_fits_the_schema() -> None:
    model = fed(
        plan(),
        task("a", "T001.001", status=succeeded(T0, 12, job="a-1")),
        event("a.1", "a", "Succeeded", "attempt 1 succeeded"),
    ).refresh()
    key = views.find_task(model, "team", "T001.001")
    assert key == ("team", "a")
    log = {"attempt": 1, "job": "a-1", "pod": None, "container": "agent", "lines": [],
           "error": "the pod of Job a-1 no longer exists"}
    document = views.task(model, key, log)
    schemas.TaskDetail.model_validate(document)
    assert document["attempts"][0]["durationSeconds"] == 12.0
    assert document["result"]["commit"] == "abc123"
    assert [e["reason"] for e in document["events"]] == ["Succeeded"]
    assert document["readiness"]["phase"] == "Succeeded"


def test_agents_lists_running_attempts_with_their_pods() -> None:
    model = fed(
        plan(),
        task("a", "T001.001", status=running(T0, "a-1", profile="devops-engineer")),
        task("b", "T001.002", status=running(T0, "b-1")),
        job("a-1", "a"), job("b-1", "b"), pod("a-1-xyz", "a-1", "a"),
        now=LATER,
    ).refresh()
    document = views.agents(model)
    schemas.AgentList.model_validate(document)
    assert [(a["task"], a["pod"], a["ageSeconds"]) for a in document["items"]] == [
        ("a", "a-1-xyz", 30.0), ("b", None, 30.0),
    ]
    assert [(p["profile"], p["running"]) for p in document["byProfile"]] == [
        ("devops-engineer", 1), ("general-purpose", 1),
    ]


def test_recent_is_newest_first_and_limited() -> None:
    model = fed(
        plan(),
        task("a", "T001.001", status=succeeded(T0, 10, job="a-1")),
        task("b", "T001.002", status=succeeded(T0, 20, job="b-1")),
        task("c", "T001.003", status=succeeded(T0, 30, job="c-1")),
    ).refresh()
    document = views.recent(model, limit=2)
    schemas.CompletionList.model_validate(document)
    assert [c["task"] for c in document["items"]] == ["c", "b"]


def test_a_list_replaces_only_its_namespace_and_deletes_what_it_lacks() -> None:
    feed = fed(task("a", "T001.001", namespace="one"), task("b", "T001.001", namespace="two"),
               namespaces=frozenset({"one", "two"}))
    assert set(feed.refresh().tasks) == {("one", "a"), ("two", "b")}
    feed.on_list("AgentTask", "one", [], "2")
    assert set(feed.refresh().tasks) == {("two", "b")}
    gone = task("b", "T001.001", namespace="two")
    feed.on_event("AgentTask", "DELETED", gone)
    assert feed.refresh().tasks == {}


def test_each_recomputation_is_a_new_version() -> None:
    feed = fed(task("a", "T001.001"))
    first = feed.refresh().version
    feed.on_event("AgentTask", "ADDED", task("b", "T001.002"))
    assert feed.refresh().version == first + 1
    assert feed.synced
