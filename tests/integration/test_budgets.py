"""Budgets before dispatch, on the real local control plane.

The agents are kwok's (the `long` outcome succeeds after 2 s reporting costUSD 0.01). The
first test runs the operator's console script; the daily budget's test drives the
operator's own dispatcher in this process with an injected clock (as the unit tests do),
so that the UTC day can end without waiting for midnight: the cache is filled by relists
instead of watches, everything else (gathering, decisions, writes) is the operator's.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agent_operator import dispatcher, kube, scheduling, store

from . import test_operator as base
from .conftest import kubectl
from .test_operator import (
    Operator,
    apply,
    condition,
    jobs_by_name,
    plan,
    profile,
    task,
    tasks_by_id,
    wait_for,
)

stages = base.stages
ns = base.ns
operators = base.operators

pytestmark = pytest.mark.integration

ATTEMPT_COST = 0.01  # what the `long` outcome reports


def plan_object(ns: str, name: str) -> dict[str, Any]:
    return next(p for p in base.get("agentplans", ns) if p["metadata"]["name"] == name)


def ready_reason(ns: str, task_id: str) -> str | None:
    return condition(tasks_by_id(ns).get(task_id, {}), "Ready").get("reason")


def phase(ns: str, task_id: str) -> str | None:
    return (tasks_by_id(ns).get(task_id, {}).get("status") or {}).get("phase")


def test_a_plan_at_its_budget_starts_no_attempt_says_why_and_raising_it_resumes(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        plan(ns, "spend", budget={"maxCostUSD": ATTEMPT_COST}),
        profile(ns, "slow", outcome="long"),
        task(ns, "one", "T001.001", plan="spend", agentProfile="slow"),
    )
    wait_for("the first task stored", lambda: "T001.001" in tasks_by_id(ns))
    apply(task(ns, "two", "T001.002", plan="spend", agentProfile="slow"))
    operators(ns)

    wait_for("the first attempt done", lambda: phase(ns, "T001.001") == "Succeeded")
    wait_for(
        "the plan exhausted",
        lambda: condition(plan_object(ns, "spend"), "BudgetExhausted").get("reason")
        == "TotalBudgetUsed",
    )
    wait_for("the second task held", lambda: ready_reason(ns, "T001.002") == "BudgetExhausted")
    first = tasks_by_id(ns)["T001.001"]["status"]
    assert first["spend"]["costUSD"] == ATTEMPT_COST
    assert first["history"][-1]["allowanceUSD"] == ATTEMPT_COST  # all that was left
    held = tasks_by_id(ns)["T001.002"]
    assert held["status"]["phase"] == "Blocked"
    assert "the budget of plan 'spend' is used up: $0.0100 spent" in held["status"]["message"]
    spend = plan_object(ns, "spend")["status"]["spend"]
    assert spend["costUSD"] == ATTEMPT_COST and spend["remainingUSD"] == 0
    assert "$0.0100 spent of $0.0100" in condition(plan_object(ns, "spend"), "BudgetExhausted")[
        "message"
    ]
    columns = kubectl("-n", ns, "get", "agentplan", "spend").stdout
    assert "SPENT" in columns.splitlines()[0] and "0.01" in columns.splitlines()[1]
    assert "COST" in kubectl("-n", ns, "get", "agenttasks").stdout.splitlines()[0]
    assert [name for name in jobs_by_name(ns) if name.startswith("two-")] == []

    kubectl("-n", ns, "patch", "agentplan", "spend", "--type=merge",
            "-p", '{"spec":{"budget":{"maxCostUSD":1}}}')
    wait_for("the second task run", lambda: phase(ns, "T001.002") == "Succeeded")
    second = tasks_by_id(ns)["T001.002"]["status"]
    assert second["history"][-1]["allowanceUSD"] == 1 - ATTEMPT_COST
    wait_for(
        "the plan within budget",
        lambda: condition(plan_object(ns, "spend"), "BudgetExhausted").get("status") == "False",
    )
    assert plan_object(ns, "spend")["status"]["spend"]["costUSD"] == 2 * ATTEMPT_COST


class InjectedClock:
    def __init__(self, start: datetime.datetime) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now


async def _daily_budget_scenario(kubeconfig: Path, ns: str) -> None:
    clock = InjectedClock(datetime.datetime(2031, 5, 6, 23, 58, tzinfo=datetime.UTC))
    cache = store.Store()
    async with kube.Kube(kube.connection_from_environment(str(kubeconfig))) as client:
        loop = dispatcher.Dispatcher(
            client=client,
            store=cache,
            config=scheduling.Config(
                identity="budget-test", policy=scheduling.Policy.permissive()
            ),
            namespaces=[ns],
            now=clock,
        )

        async def passes_until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                await loop.resync()
                await loop.run_pass()
                if await asyncio.to_thread(check):
                    return
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"timed out waiting for {what}")
                await asyncio.sleep(0.5)

        await passes_until("the first attempt done", lambda: phase(ns, "T001.001") == "Succeeded")
        await passes_until(
            "the second task held", lambda: ready_reason(ns, "T001.002") == "BudgetExhausted"
        )
        held = tasks_by_id(ns)["T001.002"]["status"]["message"]
        assert "today's budget of plan 'daily' is used up" in held
        assert "starts again at 2031-05-07T00:00:00Z" in held
        exhausted = condition(plan_object(ns, "daily"), "BudgetExhausted")
        assert exhausted["reason"] == "DailyBudgetUsed"
        assert plan_object(ns, "daily")["status"]["spend"]["day"] == "2031-05-06"
        assert loop.next_wake is not None and loop.next_wake <= datetime.datetime(
            2031, 5, 7, tzinfo=datetime.UTC
        )

        clock.now = datetime.datetime(2031, 5, 6, 23, 59, 59, tzinfo=datetime.UTC)
        for _ in range(2):
            await loop.resync()
            await loop.run_pass()
        assert [n for n in jobs_by_name(ns) if n.startswith("two-")] == []

        clock.now = datetime.datetime(2031, 5, 7, 0, 0, 1, tzinfo=datetime.UTC)
        await passes_until("the second task run", lambda: phase(ns, "T001.002") == "Succeeded")
        spend = plan_object(ns, "daily")["status"]["spend"]
        assert spend["day"] == "2031-05-07" and spend["todayCostUSD"] == ATTEMPT_COST
        assert spend["costUSD"] == 2 * ATTEMPT_COST


def test_the_daily_budget_starts_again_at_the_utc_day_boundary(
    ns: str, cluster: Path
) -> None:
    apply(
        plan(ns, "daily", budget={"dailyCostUSD": ATTEMPT_COST}),
        profile(ns, "slow", outcome="long"),
        task(ns, "one", "T001.001", plan="daily", agentProfile="slow"),
    )
    wait_for("the first task stored", lambda: "T001.001" in tasks_by_id(ns))
    apply(task(ns, "two", "T001.002", plan="daily", agentProfile="slow"))
    asyncio.run(_daily_budget_scenario(cluster, ns))
