"""Budgets before dispatch, pass by pass through the in-memory world: the allowance each
attempt is given and reserves, the plan's total and daily budget, the task's own, the
plan's spend, its BudgetExhausted condition and the waiting tasks' reason."""

from __future__ import annotations

import datetime
import json

from agent_api import models
from agent_operator import conditions, metrics
from agent_operator.scheduling import budgets
from operator_world import T0, World, plan, profile, task


def report(cost: float, *, ok: bool = True, tokens: int = 1000) -> str:
    return json.dumps(
        {
            "status": "succeeded" if ok else "failed",
            "summary": "spent",
            "inputTokens": tokens,
            "outputTokens": 0,
            "costUSD": cost,
            "reason": None if ok else "BudgetExceeded",
        }
    )


def ready(world: World, name: str) -> models.Condition:
    found = conditions.find(world.status(name).conditions, conditions.READY)
    assert found is not None
    return found


def plan_status(world: World, name: str) -> models.AgentPlanStatus:
    return models.AgentPlanStatus.model_validate(world.get("AgentPlan", name).get("status") or {})


def exhausted(world: World, name: str) -> models.Condition:
    found = conditions.find(plan_status(world, name).conditions, conditions.BUDGET_EXHAUSTED)
    assert found is not None
    return found


def test_each_attempt_gets_the_least_of_its_budgets_and_reserves_it() -> None:
    world = World(
        plan("p", budget={"maxCostUSD": 10.0}),
        profile("capped", match="capped", budget={"maxCostUSD": 4.0, "maxTokens": 50000}),
        task("a", plan="p", title="capped work"),
        task("b", plan="p", title="capped work", budget={"maxCostUSD": 3.0}),
        task("c", plan="p", title="capped work"),
    )
    world.step()
    # a: the profile's cap (4); b: its own budget (3); c: what is left of the plan's (3).
    assert world.running_jobs() == ["a-1", "b-1", "c-1"]
    budget_a = world.task_input("a-1")["context"]["budget"]
    assert budget_a["maxCostUSD"] == 4.0 and budget_a["maxTokens"] == 50000
    assert "the profile's cap of $4.00" in budget_a["basis"]
    assert world.task_input("b-1")["context"]["budget"]["maxCostUSD"] == 3.0
    assert world.task_input("c-1")["context"]["budget"]["maxCostUSD"] == 3.0
    assert world.status("a").history[-1].allowance_usd == 4.0
    assert plan_status(world, "p").spend.reserved_usd == 10.0


def test_a_plan_at_its_budget_starts_nothing_says_why_and_resumes_when_raised() -> None:
    world = World(
        plan("p", budget={"maxCostUSD": 1.0}),
        task("a", plan="p"),
        task("b", plan="p"),
    )
    world.step()
    # The first attempt reserves all that is left: the second waits for it.
    assert world.running_jobs() == ["a-1"]
    assert world.task_input("a-1")["context"]["budget"]["maxCostUSD"] == 1.0
    assert world.phase("b") == "Blocked" and ready(world, "b").reason == "BudgetExhausted"
    assert "reserved by 1 running attempt" in (world.status("b").message or "")
    assert plan_status(world, "p").spend.reserved_usd == 1.0
    assert exhausted(world, "p").status == "True"

    world.finish_job("a-1", message=report(1.0))
    world.step()
    assert world.running_jobs() == []
    status = world.status("a")
    assert status.spend.cost_usd == 1.0 and status.history[-1].cost_usd == 1.0
    assert status.spend.tokens == 1000 and status.spend.day == "2026-01-01"
    message = world.status("b").message or ""
    assert "the budget of plan 'p' is used up: $1.00 spent of spec.budget.maxCostUSD $1.00" in (
        message
    )
    spend = plan_status(world, "p").spend
    assert (spend.cost_usd, spend.reserved_usd, spend.remaining_usd) == (1.0, 0.0, 0.0)
    condition = exhausted(world, "p")
    assert (condition.status, condition.reason) == ("True", "TotalBudgetUsed")
    assert "$1.00 spent of $1.00" in condition.message

    world.edit_spec("AgentPlan", "p", budget={"maxCostUSD": 3.0})
    world.step()
    assert world.running_jobs() == ["b-1"]
    assert world.task_input("b-1")["context"]["budget"]["maxCostUSD"] == 2.0
    assert exhausted(world, "p").status == "True"  # b reserved the 2.0 left


def test_the_daily_budget_starts_again_at_the_utc_day_boundary() -> None:
    world = World(
        plan("p", budget={"dailyCostUSD": 0.5}),
        profile("small", match="small", budget={"maxCostUSD": 0.5}),
        task("a", plan="p", title="small"),
        task("b", plan="p", title="small"),
    )
    world.now = T0 + datetime.timedelta(hours=23)
    world.step()
    assert world.running_jobs() == ["a-1"]
    world.finish_job("a-1", message=report(0.5))
    decision = world.step()
    assert world.running_jobs() == []
    assert "today's budget of plan 'p' is used up" in (world.status("b").message or "")
    assert "starts again at 2026-01-02T00:00:00Z" in (world.status("b").message or "")
    assert decision.next_wake is not None and decision.next_wake <= T0 + datetime.timedelta(days=1)
    condition = exhausted(world, "p")
    assert (condition.status, condition.reason) == ("True", "DailyBudgetUsed")

    world.now = T0 + datetime.timedelta(days=1, seconds=-1)
    world.step()
    assert world.running_jobs() == []
    world.now = T0 + datetime.timedelta(days=1)
    world.step()
    assert world.running_jobs() == ["b-1"]
    spend = plan_status(world, "p").spend
    assert spend.day == "2026-01-02" and spend.today_cost_usd == 0.0 and spend.cost_usd == 0.5


def test_a_task_whose_budget_is_used_fails_with_budget_exceeded_and_is_not_retried() -> None:
    world = World(task("a", budget={"maxCostUSD": 2.0, "maxTokens": 10**6}))
    world.step()
    context = world.task_input("a-1")["context"]["budget"]
    assert context["maxCostUSD"] == 2.0 and context["maxTokens"] == 10**6
    world.finish_job("a-1", ok=False, exit_code=11, message=report(2.01, ok=False))
    world.step()
    assert world.phase("a") == "Failed" and world.running_jobs() == []
    assert "BudgetExceeded" in (world.status("a").message or "")
    # A rerun is held until the budget is raised.
    world.edit_spec("AgentTask", "a", rerun="again")
    world.step()
    assert world.phase("a") == "Blocked" and ready(world, "a").reason == "BudgetExhausted"
    assert "the task's budget is used up" in (world.status("a").message or "")
    world.edit_spec("AgentTask", "a", budget={"maxCostUSD": 5.0})
    world.step()
    assert world.running_jobs() == ["a-2"]
    assert world.task_input("a-2")["context"]["budget"]["maxCostUSD"] == 2.99


def test_tasks_without_a_plan_take_the_default_plans_budget_apart_from_its_tasks() -> None:
    world = World(
        plan("default", budget={"maxCostUSD": 1.0}),
        task("own", plan="default"),
        task("loose"),
    )
    world.step()
    assert sorted(world.running_jobs()) == ["loose-1", "own-1"]  # two ledgers of 1.0 each
    assert world.task_input("loose-1")["context"]["budget"]["maxCostUSD"] == 1.0
    decision = world.step()
    assert decision.budgets[(("ns", None), "total")] == (1.0, 0.0, 1.0)
    assert metrics.BUDGET_REMAINING.labels("ns", "", "total")._value.get() == 0.0


def test_no_budget_means_no_allowance_and_no_condition_figures() -> None:
    world = World(plan("p"), task("a", plan="p"))
    world.step()
    assert world.task_input("a-1")["context"]["budget"] == {
        "maxCostUSD": None, "maxTokens": None, "basis": []
    }
    condition = exhausted(world, "p")
    assert (condition.status, condition.reason) == ("False", "NoBudget")
    assert plan_status(world, "p").spend.remaining_usd is None


def test_the_used_ratio_metric_counts_recorded_spend_only() -> None:
    world = World(plan("p", budget={"maxCostUSD": 10.0}), task("a", plan="p"), task("b", plan="p"))
    world.step()
    world.finish_job("a-1", message=report(8.5))
    world.step()
    assert metrics.BUDGET_USED.labels("ns", "p", "total")._value.get() == 0.85
    assert metrics.BUDGET_REMAINING.labels("ns", "p", "total")._value.get() == 0.0  # b: 1.5


def test_day_arithmetic() -> None:
    late = datetime.datetime(2026, 3, 1, 23, 59, 59, tzinfo=datetime.UTC)
    assert budgets.utc_day(late) == "2026-03-01"
    assert budgets.next_day(late) == datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC)
    status = models.AgentTaskStatus(spend=models.Spend(cost_usd=1.0, day="2026-03-01",
                                                       day_cost_usd=1.0))
    result = models.TaskResult(cost_usd=0.25, input_tokens=10, output_tokens=5)
    budgets.record_spend(status, result, late)
    assert (status.spend.cost_usd, status.spend.day_cost_usd) == (1.25, 1.25)
    budgets.record_spend(status, result, late + datetime.timedelta(seconds=1))
    assert status.spend.day == "2026-03-02" and status.spend.day_cost_usd == 0.25
    assert status.spend.cost_usd == 1.5 and status.spend.tokens == 30


def test_an_adopted_job_still_reserves_its_allowance() -> None:
    world = World(plan("p", budget={"maxCostUSD": 1.0}), task("a", plan="p"), task("b", plan="p"))
    world.step()
    job = world.get("Job", "a-1")
    assert job["metadata"]["annotations"]["orchestration.coditect.ai/allowance-usd"] == "1.0"
    raw = world.get("AgentTask", "a")
    raw.pop("status")  # the status write of the pass that created the Job was lost
    world.put(raw)
    world.step()
    assert world.status("a").history[-1].allowance_usd == 1.0
    assert world.running_jobs() == ["a-1"]  # b still waits for a's reservation
    assert ready(world, "b").reason == "BudgetExhausted"
