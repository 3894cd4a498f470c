"""Exponential backoff between attempts of one task."""

from __future__ import annotations


def retry_delay_seconds(*, failed_attempts: int, base_seconds: int, cap_seconds: int) -> float:
    """Delay before the retry that follows the `failed_attempts`-th failure.

    base, 2*base, 4*base, ... never above the cap: the plan's retry policy
    (`backoffBaseSeconds`, `backoffCapSeconds`).
    """
    if failed_attempts < 1:
        return 0.0
    exponent = min(failed_attempts - 1, 62)  # keeps the power finite; the cap wins anyway
    return float(min(cap_seconds, base_seconds * (2**exponent)))
