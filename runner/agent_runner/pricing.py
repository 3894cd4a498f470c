"""Estimated cost of an attempt, from a per-model price table.

Prices are US dollars per million tokens (Anthropic's published list prices). Models are
matched by ID prefix so that dated IDs (``claude-sonnet-4-5-20250929``) find their family;
the longest matching prefix wins. An unknown model costs 0.0 and says so in the log
rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float


# Longest prefix wins, so "claude-opus-4-5" beats "claude-opus-4".
PRICES: dict[str, Price] = {
    # Opus 4.5 and later are cheaper than the Opus 4 / 4.1 generation.
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-opus-4-7": Price(5.0, 25.0),
    "claude-opus-4-8": Price(5.0, 25.0),
    "claude-opus-4-9": Price(5.0, 25.0),
    "claude-opus-5": Price(5.0, 25.0),
    "claude-opus-4": Price(15.0, 75.0),  # claude-opus-4-0, -4-1 and dated IDs
    "claude-3-opus": Price(15.0, 75.0),
    "claude-sonnet": Price(3.0, 15.0),  # every Sonnet 4.x
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-3-5-sonnet": Price(3.0, 15.0),
    "claude-haiku-4": Price(1.0, 5.0),  # Haiku 4.5
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
}

# Prompt-cache tokens are billed relative to the input price.
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1


def price_for(model: str) -> Price | None:
    """The price of a model ID, or None when the table does not know it."""
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    if not matches:
        return None
    return PRICES[max(matches, key=len)]


def cost_usd(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
) -> float:
    """Estimated cost in USD, rounded to a hundredth of a cent; 0.0 for unknown models."""
    price = price_for(model)
    if price is None:
        return 0.0
    dollars = (
        input_tokens * price.input
        + cache_write_tokens * price.input * CACHE_WRITE_FACTOR
        + cache_read_tokens * price.input * CACHE_READ_FACTOR
        + output_tokens * price.output
    ) / 1_000_000
    return round(dollars, 4)
