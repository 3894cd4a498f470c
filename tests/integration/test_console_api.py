"""agent-dashboard's API on the local control plane, beside the real operator.

After a DAG runs through the operator, the dashboard's counts, phases, attempts and
completions match what the cluster holds; its queue is the order in which the operator
then starts ready tasks, and its reasons are the operator's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.console_fixtures import (
    all_succeeded,
    apply,
    dag,
    ns,
    plan,
    processes,
    task,
    tasks_by_id,
    wait_for,
)

pytestmark = pytest.mark.integration
__all__ = ["ns", "processes"]  # fixtures, used by name


def test_after_a_dag_runs_the_api_matches_the_cluster(ns: str, processes: Any) -> None:
    dashboard = processes["dashboard"](ns)
    apply(plan(ns, "dag"), *dag(ns, "dag", levels=3, width=3))
    processes["operator"](ns)
    wait_for("the DAG to succeed", all_succeeded(ns, 9), timeout=180)

    def caught_up() -> bool:
        [summary] = dashboard.get("/plans")["items"]
        return summary["counts"]["succeeded"] == 9
    wait_for("the dashboard to see every success", caught_up, timeout=10)

    cluster = tasks_by_id(ns)
    [summary] = dashboard.get("/plans")["items"]
    assert (summary["name"], summary["exists"], summary["progress"]) == ("dag", True, "9/9")
    assert summary["tasksPerHour"] and summary["tasksPerHour"] > 0
    detail = dashboard.get(f"/namespaces/{ns}/plans/dag")
    rows = {r["taskId"]: r for r in detail["tasks"]}
    assert set(rows) == set(cluster)
    for tid, obj in cluster.items():
        status = obj["status"]
        assert rows[tid]["phase"] == status["phase"]
        assert rows[tid]["attempts"] == status["attempts"]
        assert [h["job"] for h in rows[tid]["history"]] == [h["job"] for h in status["history"]]
        assert rows[tid]["dependsOn"] == obj["spec"].get("dependsOn", [])
    recent = dashboard.get("/recent?limit=100")["items"]
    assert sorted(c["job"] for c in recent) == sorted(
        h["job"] for t in cluster.values() for h in t["status"]["history"]
    )
    times = [c["completionTime"] for c in recent]
    assert times == sorted(times, reverse=True)
    assert len(dashboard.get("/recent?limit=3")["items"]) == 3
    assert dashboard.get("/agents")["items"] == []
    queue = dashboard.get("/queue")
    assert queue["ready"] == [] and queue["waiting"] == []
    one = dashboard.get(f"/namespaces/{ns}/tasks/T002.001")
    assert one["name"] == "dag-t002-001"
    assert one["attempts"][0]["outcome"] == "Succeeded"
    assert one["attempts"][0]["durationSeconds"] is not None
    assert {e["reason"] for e in one["events"]} >= {"Running", "Succeeded"}
    assert one["log"]["container"] == "agent"


def test_the_queue_is_the_order_the_operator_starts_tasks(ns: str, processes: Any) -> None:
    apply(plan(ns, "q"))
    order = [("a", "P2"), ("b", "P0"), ("c", "P3"), ("d", "P1"), ("e", "P0")]
    for name, priority in order:  # one by one: creation times differ
        apply(task(ns, name, f"T001.{ord(name) - 96:03d}", plan="q", priority=priority))
    apply(task(ns, "after", "T002.001", plan="q", dependsOn=["T001.001"]),
          task(ns, "gone", "T002.002", plan="q", dependsOn=["T009.009"]),
          task(ns, "held", "T002.003", plan="q", suspend=True))
    dashboard = processes["dashboard"](ns, "--max-concurrent", "1")
    wait_for("every task in the cache", lambda: len(dashboard.get("/plans")["items"][0:1]) == 1
             and dashboard.get("/plans")["items"][0]["total"] == 8, timeout=10)
    queue = dashboard.get("/queue?plan=q")
    ready = [e["task"] for e in queue["ready"]]
    assert ready == ["b", "e", "d", "a", "c"]
    assert [e["startsNow"] for e in queue["ready"]] == [True, False, False, False, False]
    assert "global cap of 1" in queue["ready"][1]["message"]
    why = {e["task"]: e["reason"] for e in queue["waiting"]}
    assert why == {"after": "WaitingForDependencies", "gone": "DependencyMissing",
                   "held": "Suspended"}

    processes["operator"](ns, "--max-concurrent", "1")

    def five_done() -> bool:
        found = tasks_by_id(ns)
        return all((found[f"T001.{i:03d}"].get("status") or {}).get("phase") == "Succeeded"
                   for i in range(1, 6))
    wait_for("the five ready tasks to succeed", five_done, timeout=180)
    found = tasks_by_id(ns)
    started = sorted(
        (found[f"T001.{ord(n) - 96:03d}"]["status"]["history"][0]["startTime"], n) for n, _ in order
    )
    assert [n for _, n in started] == ready
    # What the operator wrote and what the dashboard says agree for the waiting tasks.
    wait_for("the dashboard to see the operator's reasons",
             lambda: {e["task"]: e["reason"] for e in dashboard.get("/queue")["waiting"]}
             == {"gone": "DependencyMissing", "held": "Suspended"}, timeout=30)
    for entry in dashboard.get("/queue")["waiting"]:
        status = tasks_by_id(ns)[entry["taskId"]]["status"]
        ready_condition = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert entry["reason"] == ready_condition["reason"]
        assert entry["phase"] == status["phase"]
