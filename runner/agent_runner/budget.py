"""What one attempt may spend, and whether it has.

The operator works out the attempt's allowance before it starts (the least of the
profile's cap per attempt, what is left of the task's budget and what was left of the
plan's) and hands it over in the task input's ``context.budget``; a task run by hand
without a context takes its own ``spec.budget``. The agent loop prices the usage after
every model response with the model price table (``pricing``, cache reads and writes
included) and asks `Allowance.reached` whether the attempt must wrap up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent_runner import pricing


class Metered(Protocol):
    """Token counts as the loop keeps them (`messages_api.Usage`)."""

    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int


def tokens_of(usage: Metered) -> int:
    """Every token the budget counts: input, cache writes and reads, and output."""
    return (
        usage.input_tokens
        + usage.cache_write_tokens
        + usage.cache_read_tokens
        + usage.output_tokens
    )


def cost_of(model: str, usage: Metered) -> float:
    """The estimated cost of the usage so far, in US dollars."""
    return pricing.cost_usd(
        model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_read_tokens=usage.cache_read_tokens,
    )


def usd(amount: float) -> str:
    """A dollar figure as messages show it: cents, or a hundredth of a cent below 1 $."""
    return f"${amount:.4f}" if amount < 1 else f"${amount:.2f}"


@dataclass(frozen=True)
class Allowance:
    """The attempt's limits; None: no limit of that kind."""

    max_cost_usd: float | None = None
    max_tokens: int | None = None
    basis: tuple[str, ...] = ()  # which budgets set them, in words

    @property
    def limited(self) -> bool:
        return self.max_cost_usd is not None or self.max_tokens is not None

    def describe(self) -> str:
        """The allowance in one line, for the prompt and the log."""
        parts = []
        if self.max_cost_usd is not None:
            parts.append(f"{usd(self.max_cost_usd)} of estimated model cost")
        if self.max_tokens is not None:
            parts.append(f"{self.max_tokens} tokens")
        text = " and ".join(parts) or "no limit"
        return f"{text} ({'; '.join(self.basis)})" if self.basis else text

    def reached(self, model: str, usage: Metered) -> str | None:
        """What says the allowance is used up, with the figures; None while it is not."""
        if self.max_cost_usd is not None:
            spent = cost_of(model, usage)
            if spent >= self.max_cost_usd:
                return f"spent {usd(spent)} of its {usd(self.max_cost_usd)} allowance"
        if self.max_tokens is not None:
            used = tokens_of(usage)
            if used >= self.max_tokens:
                return f"used {used} of its {self.max_tokens}-token allowance"
        return None
