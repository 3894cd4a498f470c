"""Running many API calls with a bound on how many are in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")
CONCURRENCY = 32


async def gather(calls: Iterable[Awaitable[T]], limit: int = CONCURRENCY) -> list[T]:
    """Runs the calls at most `limit` at a time, pulling them from the iterable only when a
    slot is free, so 10,000 writes never exist at once. Results in completion order."""
    iterator = iter(calls)
    results: list[T] = []

    async def worker() -> None:
        for call in iterator:
            results.append(await call)

    await asyncio.gather(*(worker() for _ in range(limit)))
    return results
