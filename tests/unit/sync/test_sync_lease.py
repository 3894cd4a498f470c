"""Who may hold the sidecar's Lease (pure rule; the Lease itself is tested on the
real API server in tests/integration/test_sync_lease.py)."""

from __future__ import annotations

import datetime

from agent_sync.lease import _micro_time, may_hold

NOW = datetime.datetime(2026, 11, 24, 12, 0, 0, tzinfo=datetime.UTC)


def test_a_free_or_own_lease_may_be_held() -> None:
    assert may_hold(holder=None, renewed=None, duration_seconds=15, identity="a", now=NOW)
    assert may_hold(holder="a", renewed=NOW, duration_seconds=15, identity="a", now=NOW)


def test_another_holder_keeps_it_until_it_stops_renewing() -> None:
    recent = NOW - datetime.timedelta(seconds=10)
    stale = NOW - datetime.timedelta(seconds=16)
    assert not may_hold(holder="b", renewed=recent, duration_seconds=15, identity="a", now=NOW)
    assert may_hold(holder="b", renewed=stale, duration_seconds=15, identity="a", now=NOW)


def test_micro_time_always_has_six_fraction_digits_in_utc() -> None:
    assert _micro_time(NOW) == "2026-11-24T12:00:00.000000Z"
    other = datetime.datetime(2026, 11, 24, 13, 0, 0, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert _micro_time(other) == "2026-11-24T12:00:00.000005Z"
