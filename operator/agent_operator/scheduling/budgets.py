"""Budgets: what each task and each plan spent, what a new attempt may spend, and whether
one may start at all.

Spend is what the attempts' reports said (`costUSD`, tokens), recorded in the task's
`status.spend` when the attempt's end is recorded, with the UTC day of the recording; a
plan's spend is the sum over its current tasks, so it is recomputed by every pass from
what the cluster holds. A running attempt reserves its allowance (`allowanceUSD` of its
attempt record) of its plan's budget, in total and for today, until its end is recorded.

The allowance of a new attempt is the least of the profile's cap per attempt, what is left
of the task's budget, and what is left of its plan's total and of today's budget after the
recorded spend and the reservations. No attempt starts while any of them is used up.
Tasks without a plan take the budget of the namespace's default plan, counted apart from
that plan's own tasks (as their caps and circuit breaker are).

Pure: the day comes from the pass's `now`.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Final

from agent_api import models

from agent_operator.scheduling import reasons
from agent_operator.scheduling.progress import TaskProgress
from agent_operator.scheduling.snapshot import PlanScope, plan_phrase, running_record

USED_UP: Final = 0.0001  # less than this left is nothing left (reports round to 1/100 cent)


def utc_day(now: datetime.datetime) -> str:
    """The UTC day of a moment, as status.spend.day records it."""
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%d")


def next_day(now: datetime.datetime) -> datetime.datetime:
    """The next 00:00 UTC after `now`."""
    day = now.astimezone(datetime.UTC).date() + datetime.timedelta(days=1)
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)


def usd(amount: float) -> str:
    """A dollar figure: cents, or a hundredth of a cent below $1."""
    if amount == 0:
        return "$0"
    return f"${amount:.4f}" if abs(amount) < 1 else f"${amount:.2f}"


def _round(amount: float) -> float:
    return round(amount, 4)


@dataclasses.dataclass
class Ledger:
    """One scope's spend in this pass; `reserve` adds the attempts the pass starts."""

    recorded: float = 0.0  # recorded costs of the scope's tasks, all days
    today: float = 0.0  # recorded on the pass's UTC day
    reserved: float = 0.0  # allowances of the running attempts
    running: int = 0  # running attempts that reserved something

    def reserve(self, amount: float | None) -> None:
        if amount:
            self.reserved = _round(self.reserved + amount)
            self.running += 1

    def total_left(self, budget: models.PlanBudget) -> float | None:
        if budget.max_cost_usd is None:
            return None
        return _round(budget.max_cost_usd - self.recorded - self.reserved)

    def today_left(self, budget: models.PlanBudget) -> float | None:
        if budget.daily_cost_usd is None:
            return None
        return _round(budget.daily_cost_usd - self.today - self.reserved)

    def remaining(self, budget: models.PlanBudget) -> float | None:
        """What new attempts may still spend; None without a budget."""
        left = [x for x in (self.total_left(budget), self.today_left(budget)) if x is not None]
        return max(0.0, min(left)) if left else None


def ledgers(tasks: Iterable[TaskProgress], now: datetime.datetime) -> dict[PlanScope, Ledger]:
    """Every scope's ledger, from its tasks' recorded spend and running attempts (after the
    pass recorded the attempts that ended)."""
    day = utc_day(now)
    out: dict[PlanScope, Ledger] = defaultdict(Ledger)
    for task in tasks:
        ledger = out[task.scope]
        spend = task.status.spend
        ledger.recorded = _round(ledger.recorded + spend.cost_usd)
        if spend.day == day:
            ledger.today = _round(ledger.today + spend.day_cost_usd)
        if task.running:
            record = running_record(task.status)
            if record is not None:
                ledger.reserve(record.allowance_usd)
    return out


def record_spend(
    status: models.AgentTaskStatus,
    result: models.TaskResult | None,
    now: datetime.datetime,
) -> float:
    """Adds a finished attempt's reported spend to the task's; returns its cost."""
    if result is None:
        return 0.0
    cost = _round(result.cost_usd)
    spend = status.spend.model_copy()
    day = utc_day(now)
    spend.cost_usd = _round(spend.cost_usd + cost)
    spend.tokens += result.input_tokens + result.output_tokens
    spend.day_cost_usd = _round((spend.day_cost_usd if spend.day == day else 0.0) + cost)
    spend.day = day
    status.spend = spend
    return cost


@dataclasses.dataclass(frozen=True)
class Allowance:
    """What a new attempt may spend; None: no limit of that kind."""

    cost_usd: float | None
    tokens: int | None
    basis: tuple[str, ...]


def _task_left(task: TaskProgress) -> tuple[float | None, int | None]:
    own = task.spec.budget
    spend = task.status.spend
    cost = None if own.max_cost_usd is None else _round(own.max_cost_usd - spend.cost_usd)
    tokens = None if own.max_tokens is None else own.max_tokens - spend.tokens
    return cost, tokens


def allowance(
    task: TaskProgress,
    profile: models.ProfileBudget,
    ledger: Ledger,
    plan_budget: models.PlanBudget,
) -> Allowance:
    """The least of the profile's cap, the task's budget left and the plan's left."""
    task_cost, task_tokens = _task_left(task)
    phrase = plan_phrase(task.scope)
    costs: list[tuple[float, str]] = []
    if profile.max_cost_usd is not None:
        costs.append((profile.max_cost_usd, f"the profile's cap of {usd(profile.max_cost_usd)}"))
    if task_cost is not None and task.spec.budget.max_cost_usd is not None:
        costs.append(
            (task_cost, f"the task's budget: {usd(max(0.0, task_cost))} left of "
             f"{usd(task.spec.budget.max_cost_usd)}")
        )
    total = ledger.total_left(plan_budget)
    if total is not None and plan_budget.max_cost_usd is not None:
        costs.append(
            (total, f"the budget of {phrase}: {usd(max(0.0, total))} left of "
             f"{usd(plan_budget.max_cost_usd)}")
        )
    today = ledger.today_left(plan_budget)
    if today is not None and plan_budget.daily_cost_usd is not None:
        costs.append(
            (today, f"today's budget of {phrase}: {usd(max(0.0, today))} left of "
             f"{usd(plan_budget.daily_cost_usd)}")
        )
    tokens = [t for t in (profile.max_tokens, task_tokens) if t is not None]
    cost = max(0.0, min(c for c, _ in costs)) if costs else None
    basis = tuple(text for amount, text in costs if cost is not None and amount <= cost + 1e-9)
    token_limit = max(0, min(tokens)) if tokens else None
    if token_limit is not None:
        basis += ("the task's token budget" if token_limit == task_tokens
                  else "the profile's token cap",)
    return Allowance(cost_usd=cost, tokens=token_limit, basis=basis)


@dataclasses.dataclass(frozen=True)
class Exhausted:
    """Why no attempt of the task may start for budget reasons."""

    message: str
    until: datetime.datetime | None = None  # when it frees itself (the next UTC day)


def exhausted(
    task: TaskProgress,
    ledger: Ledger,
    plan_budget: models.PlanBudget,
    now: datetime.datetime,
) -> Exhausted | None:
    """The first budget that is used up for the task, with the figures; None when an
    attempt may start."""
    own = task.spec.budget
    spend = task.status.spend
    task_cost, task_tokens = _task_left(task)
    if task_cost is not None and task_cost < USED_UP:
        return Exhausted(
            f"the task's budget is used up: its attempts spent {usd(spend.cost_usd)} of "
            f"spec.budget.maxCostUSD {usd(own.max_cost_usd or 0.0)}; raise it to run again"
        )
    if task_tokens is not None and task_tokens <= 0:
        return Exhausted(
            f"the task's token budget is used up: its attempts used {spend.tokens} of "
            f"spec.budget.maxTokens {own.max_tokens}; raise it to run again"
        )
    phrase = plan_phrase(task.scope)
    total = ledger.total_left(plan_budget)
    if total is not None and total < USED_UP:
        return Exhausted(
            f"the budget of {phrase} is used up: {_figures(ledger, ledger.recorded)} of "
            f"spec.budget.maxCostUSD {usd(plan_budget.max_cost_usd or 0.0)}; "
            + _resume_hint(ledger, "raise spec.budget.maxCostUSD to resume")
        )
    today = ledger.today_left(plan_budget)
    if today is not None and today < USED_UP:
        until = next_day(now)
        return Exhausted(
            f"today's budget of {phrase} is used up: {_figures(ledger, ledger.today)} of "
            f"spec.budget.dailyCostUSD {usd(plan_budget.daily_cost_usd or 0.0)} (UTC day "
            f"{utc_day(now)}); "
            + _resume_hint(
                ledger,
                f"it starts again at {until.strftime('%Y-%m-%dT%H:%M:%SZ')}, or raise "
                "spec.budget.dailyCostUSD",
            ),
            until=until,
        )
    return None


def _figures(ledger: Ledger, recorded: float) -> str:
    text = f"{usd(recorded)} spent"
    if ledger.reserved:
        attempts = "attempt" if ledger.running == 1 else "attempts"
        text += f" and {usd(ledger.reserved)} reserved by {ledger.running} running {attempts}"
    return text


def _resume_hint(ledger: Ledger, hint: str) -> str:
    if ledger.reserved:
        return f"what the running attempts do not spend is freed when they end; or {hint}"
    return hint


def plan_condition(
    ledger: Ledger, budget: models.PlanBudget, now: datetime.datetime
) -> tuple[models.ConditionStatus, str, str]:
    """The plan's BudgetExhausted condition: (status, reason, message with the figures)."""
    if budget.max_cost_usd is None and budget.daily_cost_usd is None:
        return "False", reasons.NO_BUDGET, "spec.budget sets no limit"
    total = ledger.total_left(budget)
    today = ledger.today_left(budget)
    parts = []
    if budget.max_cost_usd is not None:
        parts.append(
            f"total: {_figures(ledger, ledger.recorded)} of {usd(budget.max_cost_usd)}"
        )
    if budget.daily_cost_usd is not None:
        parts.append(
            f"today ({utc_day(now)}): {_figures(ledger, ledger.today)} of "
            f"{usd(budget.daily_cost_usd)}"
        )
    figures = "; ".join(parts)
    if total is not None and total < USED_UP:
        return "True", reasons.TOTAL_BUDGET_USED, f"no attempt starts: {figures}"
    if today is not None and today < USED_UP:
        until = next_day(now).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            "True",
            reasons.DAILY_BUDGET_USED,
            f"no attempt starts until {until}: {figures}",
        )
    return "False", reasons.WITHIN_BUDGET, figures


def plan_spend(
    ledger: Ledger, budget: models.PlanBudget, now: datetime.datetime
) -> models.PlanSpend:
    return models.PlanSpend(
        cost_usd=ledger.recorded,
        day=utc_day(now),
        today_cost_usd=ledger.today,
        reserved_usd=ledger.reserved,
        remaining_usd=ledger.remaining(budget),
    )


def figures(
    ledger: Ledger, budget: models.PlanBudget
) -> Mapping[str, tuple[float, float, float]]:
    """window (total, daily) -> (limit, recorded spend, reserved), for the metrics."""
    out: dict[str, tuple[float, float, float]] = {}
    if budget.max_cost_usd is not None:
        out["total"] = (budget.max_cost_usd, ledger.recorded, ledger.reserved)
    if budget.daily_cost_usd is not None:
        out["daily"] = (budget.daily_cost_usd, ledger.today, ledger.reserved)
    return out
