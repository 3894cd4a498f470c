"""Backoff arithmetic of the agent loop (the loop itself runs in test_runner_cli)."""

from __future__ import annotations

import email.utils

from agent_runner import loop


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
