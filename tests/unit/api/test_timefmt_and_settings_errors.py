"""The shared pure helpers of agent_api: RFC 3339 times and the wording of bad settings."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from agent_api import settings_errors, timefmt
from pydantic import BaseModel, Field, ValidationError, model_validator

NOW = datetime.datetime(2026, 11, 24, 12, 0, 0, tzinfo=datetime.UTC)


def test_times_always_have_six_fraction_digits_in_utc() -> None:
    assert timefmt.format_time(NOW) == "2026-11-24T12:00:00.000000Z"
    other = datetime.datetime(
        2026, 11, 24, 13, 0, 0, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert timefmt.format_time(other) == "2026-11-24T12:00:00.000005Z"
    assert timefmt.format_seconds(other) == "2026-11-24T12:00:00Z"


def test_parse_time_reads_what_kubernetes_writes_and_nothing_else() -> None:
    assert timefmt.parse_time("2026-11-24T12:00:00Z") == NOW
    assert timefmt.parse_time("2026-11-24T12:00:00.000000Z") == NOW
    assert timefmt.parse_time("2026-11-24T12:00:00") == NOW  # no offset: UTC
    assert timefmt.parse_time(timefmt.format_time(NOW)) == NOW
    assert timefmt.parse_time(None) is None
    assert timefmt.parse_time("yesterday") is None


class Example(BaseModel):
    debounce_seconds: float = Field(default=1, gt=0)
    names: list[int] = Field(default_factory=list)
    secret: str = ""
    first: str = ""
    second: str = ""

    @model_validator(mode="after")
    def _one(self) -> Example:
        if self.first and self.second:
            raise ValueError("choose --first or --second, not both")
        return self


def problems(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        Example(**values)
    return settings_errors.describe(
        caught.value, env_prefix="AGENT_SYNC_", flags={"secret": None},
        env_names={"names": "NAMES"},
    )


def test_each_problem_names_the_flag_and_the_variable_never_the_field() -> None:
    assert problems(debounce_seconds=0) == (
        "--debounce-seconds / AGENT_SYNC_DEBOUNCE_SECONDS: Input should be greater than 0"
    )
    assert problems(secret=3) == "AGENT_SYNC_SECRET: Input should be a valid string"
    assert problems(names=["x"]).startswith("--names / NAMES (item 0): Input should be")


def test_a_problem_of_the_whole_is_its_message() -> None:
    assert problems(first="a", second="b") == "choose --first or --second, not both"


def test_several_problems_on_one_line() -> None:
    text = problems(debounce_seconds=-1, secret=1)
    assert text.count("; ") == 1 and "\n" not in text
    assert settings_errors.message("agent-sync", text).startswith("agent-sync: invalid settings: ")
