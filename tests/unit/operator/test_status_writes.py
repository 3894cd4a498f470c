"""How statuses are written: conditions and merge patches."""

from __future__ import annotations

import datetime

from agent_api import timefmt
from agent_operator import conditions, patches

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def test_condition_keeps_transition_time_unless_status_flips() -> None:
    first = conditions.set_condition(
        [], type="Ready", status="False", reason="A", message="", generation=1, now=T0
    )
    later = T0 + datetime.timedelta(seconds=5)
    same = conditions.set_condition(
        first, type="Ready", status="False", reason="B", message="m", generation=2, now=later
    )
    assert same[0].last_transition_time == timefmt.format_time(T0)
    assert same[0].observed_generation == 2 and same[0].reason == "B"
    flipped = conditions.set_condition(
        same, type="Ready", status="True", reason="C", message="", generation=2, now=later
    )
    assert flipped[0].last_transition_time == timefmt.format_time(later)


def test_merge_patch_removes_nested_keys() -> None:
    old = {"a": 1, "result": {"reason": "X", "summary": "s"}, "gone": True}
    new = {"a": 1, "result": {"summary": "t"}}
    assert patches.merge_patch(old, new) == {
        "result": {"reason": None, "summary": "t"},
        "gone": None,
    }
    assert patches.merge_patch(new, new) == {}
