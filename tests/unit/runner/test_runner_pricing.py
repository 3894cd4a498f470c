"""Cost estimates from the per-model price table."""

from __future__ import annotations

import pytest
from agent_runner import pricing


@pytest.mark.parametrize(
    ("model", "input_price", "output_price"),
    [
        ("claude-sonnet-4-6", 3, 15),
        ("claude-sonnet-4-5-20250929", 3, 15),
        ("claude-opus-4-1", 15, 75),
        ("claude-opus-4-20250514", 15, 75),
        ("claude-opus-4-5", 5, 25),
        ("claude-opus-4-6", 5, 25),
        ("claude-haiku-4-5", 1, 5),
        ("claude-haiku-4-5-20251001", 1, 5),
    ],
)
def test_prices_per_million_tokens(model: str, input_price: float, output_price: float) -> None:
    assert pricing.cost_usd(model, input_tokens=1_000_000, output_tokens=0) == input_price
    assert pricing.cost_usd(model, input_tokens=0, output_tokens=1_000_000) == output_price


def test_cache_tokens_are_priced_relative_to_input() -> None:
    cost = pricing.cost_usd(
        "claude-sonnet-4-6", input_tokens=0, output_tokens=0,
        cache_write_tokens=1_000_000, cache_read_tokens=1_000_000,
    )
    assert cost == pytest.approx(3 * 1.25 + 3 * 0.1)


def test_an_unknown_model_costs_nothing_rather_than_a_guess() -> None:
    assert pricing.price_for("gpt-4") is None
    assert pricing.cost_usd("gpt-4", input_tokens=10**6, output_tokens=10**6) == 0.0
