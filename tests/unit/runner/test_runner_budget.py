"""The attempt's budget, enforced while the agent runs: the real SDK against the fake
Messages API, real git. Usage is priced after every response, cache tokens included; the
turn that reaches the allowance is followed by one wrap-up turn, then the work is
committed and pushed and the attempt ends as BudgetExceeded."""

from __future__ import annotations

import json
from typing import Any

from agent_api.failures import EXIT_CODES, is_retried
from agent_runner import budget, pricing

from .fakes import FakeMessagesAPI, Remote, Reply, agent_task, git, message, text, tool_use

MODEL = "claude-sonnet-4-6"
# Each scripted turn's usage: most of the input comes from the prompt cache.
TURN_USAGE = {
    "input_tokens": 1000,
    "output_tokens": 1000,
    "cache_creation_input_tokens": 2000,
    "cache_read_input_tokens": 20000,
}


def priced(*blocks: dict[str, Any]) -> Reply:
    body = message(*blocks)
    body["usage"] = dict(TURN_USAGE)
    return Reply(body)


def turn_cost(turns: int) -> float:
    return pricing.cost_usd(
        MODEL,
        input_tokens=1000 * turns,
        output_tokens=1000 * turns,
        cache_write_tokens=2000 * turns,
        cache_read_tokens=20000 * turns,
    )


def repo_task(remote: Remote, **kwargs: Any) -> dict[str, Any]:
    return agent_task(repository={"url": remote.url, "branch": "main"}, **kwargs)


def write(name: str) -> dict[str, Any]:
    return tool_use("write_file", {"path": name, "content": f"{name}\n"}, f"t-{name}")


def test_the_price_of_a_turn_counts_cache_writes_and_reads() -> None:
    # $3 / M input, $15 / M output; cache writes at 1.25 and reads at 0.1 of the input price.
    assert turn_cost(1) == round(0.003 + 0.015 + 2000 * 3.75e-6 + 20000 * 0.3e-6, 4) == 0.0315
    without_cache = pricing.cost_usd(MODEL, input_tokens=3000, output_tokens=3000)
    assert without_cache == 0.054 < 0.08 < turn_cost(3)  # the budget below is reached by cache


def test_a_budget_below_three_turns_stops_after_the_turn_that_reaches_it(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        priced(write("one.txt")),
        priced(write("two.txt")),
        priced(write("three.txt")),  # reaches the allowance: 0.0945 >= 0.08
        priced(  # the wrap-up turn: only the report runs
            write("four.txt"),
            tool_use("report", {"summary": "Left to do: four.txt.", "status": "gave_up"}),
        ),
    )
    fake_api.then = priced(write("never.txt"))
    context = {"budget": {"maxCostUSD": 0.08, "basis": ["the task's budget ($0.0800 left)"]}}

    result = run(repo_task(remote, context=context))

    assert result.code == EXIT_CODES["BudgetExceeded"] == 11, result.stdout
    report = result.report
    assert report["status"] == "failed" and report["reason"] == "BudgetExceeded"
    assert not is_retried("BudgetExceeded")
    assert len(fake_api.requests) == 4
    # Told at the start, and once at the end.
    assert "$0.0800 of estimated model cost" in json.dumps(fake_api.requests[0]["messages"])
    assert "Budget used up" not in json.dumps(fake_api.requests[2]["messages"])
    last = json.dumps(fake_api.requests[3]["messages"][-1])
    assert "Budget used up" in last and "spent $0.0945 of its $0.0800 allowance" in last
    assert fake_api.requests[3]["max_tokens"] <= 2048
    # The report: the cost of all four turns, what is left, the figures.
    assert report["costUSD"] == turn_cost(4)
    assert report["inputTokens"] == 4 * 23000 and report["outputTokens"] == 4000
    assert "Left to do: four.txt." in report["summary"]
    assert f"spent ${turn_cost(4):.4f} of its $0.0800 allowance" in report["summary"]
    assert "the task's budget" in report["summary"]
    # The partial work is committed and pushed; the wrap-up turn's write never ran.
    assert sorted(report["filesChanged"]) == ["one.txt", "three.txt", "two.txt"]
    assert report["commit"] == remote.rev("agent/T001.001")
    assert remote.show("agent/T001.001", "three.txt") == "three.txt"
    assert "Outcome: failed (BudgetExceeded)" in git(
        remote.path, "log", "-1", "--format=%B", "agent/T001.001"
    )


def test_the_wrap_up_turn_ends_the_attempt_even_without_a_report(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(priced(write("one.txt")), priced(write("two.txt")))
    fake_api.then = priced(text("Still going."))

    result = run(repo_task(remote, context={"budget": {"maxCostUSD": 0.05}}))

    assert result.code == 11 and len(fake_api.requests) == 3
    assert sorted(result.report["filesChanged"]) == ["one.txt", "two.txt"]


def test_a_token_budget_of_the_task_itself_applies_without_a_context(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    # 150 tokens a turn (the fakes' default usage): 300 >= 250 after the second turn.
    fake_api.then = Reply(message(tool_use("bash", {"command": "echo working"})))

    result = run(repo_task(remote, budget={"maxTokens": 250}))

    assert result.code == 11 and len(fake_api.requests) == 3
    # Told after the second turn (300 tokens); the summary counts the wrap-up turn too.
    assert "used 300 of its 250-token allowance" in json.dumps(fake_api.requests[2]["messages"])
    assert "used 450 of its 250-token allowance" in result.report["summary"]
    assert "spec.budget" in result.report["summary"]
    assert "250 tokens" in json.dumps(fake_api.requests[0]["messages"])


def test_a_report_within_the_budget_succeeds(
    run: Any, fake_api: FakeMessagesAPI, remote: Remote
) -> None:
    fake_api.reply(
        priced(write("one.txt")),
        priced(tool_use("report", {"summary": "done", "status": "completed"})),
    )

    result = run(repo_task(remote, context={"budget": {"maxCostUSD": 1.0}}))

    assert result.code == 0 and result.report["costUSD"] == turn_cost(2)


def test_allowance_wording() -> None:
    allowance = budget.Allowance(max_cost_usd=2.5, max_tokens=1000, basis=("plan 'p'",))
    assert allowance.describe() == "$2.50 of estimated model cost and 1000 tokens (plan 'p')"
    assert budget.Allowance().describe() == "no limit" and not budget.Allowance().limited
