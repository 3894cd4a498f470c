"""Backoff arithmetic of the agent loop (the loop itself runs in test_runner_cli)."""

from __future__ import annotations

import email.utils
from typing import Any

from agent_runner.backends import messages_api as loop


def test_retry_after_forms() -> None:
    assert loop.retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert loop.retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert loop.retry_after_seconds({}) is None
    assert loop.retry_after_seconds({"retry-after": "soon"}) is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert loop.retry_after_seconds({"retry-after": date}, now=1_000_000) == 30


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    assert loop.backoff_seconds(1, rand=lambda: 1.0) == 1.0
    assert loop.backoff_seconds(1, rand=lambda: 0.0) == 0.5
    assert loop.backoff_seconds(3, rand=lambda: 1.0) == 4.0
    assert loop.backoff_seconds(20, rand=lambda: 1.0) == loop.BACKOFF_CAP_SECONDS


def conversation(sizes: list[int]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "task"}]}
    ]
    for n, size in enumerate(sizes):
        messages.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": f"t{n}", "name": "bash", "input": {}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"t{n}", "content": "x" * size}]})
    return messages


def test_old_tool_output_is_elided_first_when_over_budget() -> None:
    messages = conversation([5000] * 10)

    elided = loop.elide_old_output(messages, budget=31_000)

    contents = [m["content"][0]["content"] for m in messages[2::2]]
    assert elided == 4
    assert all("elided" in c for c in contents[:4])
    assert contents[4:] == ["x" * 5000] * 6
    assert loop.elide_old_output(conversation([10] * 3)) == 0


def test_only_the_last_block_carries_the_cache_breakpoint() -> None:
    messages = conversation([10, 10])

    sent = loop.request_messages(messages)

    assert sent[-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in messages[-1]["content"][-1]
    assert sum("cache_control" in b for m in sent for b in m["content"]) == 1
