"""Lease election: the pure rules, and the elector against a fake Lease API.

The Lease on a real API server is tested in tests/integration/test_sync_lease.py.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from agent_kube import election

from .fakes import Clock, FakeLeaseApi, typed

HOURS = datetime.timedelta(hours=5)


def elector(api: FakeLeaseApi, clock: Clock, identity: str, seconds: float = 15) -> (
    election.LeaderElector
):
    return election.LeaderElector(
        typed(api), namespace="ns", name="lease", identity=identity, duration_seconds=seconds,
        monotonic=clock.monotonic, wall=clock.wall,
    )


def record(holder: str, renewed: str, version: str = "1") -> election.Lease:
    return election.Lease(
        spec=election.LeaseSpec(holder=holder, duration_seconds=15, renew_time=renewed),
        resource_version=version,
    )


# --------------------------------------------------------------------------- pure rules


def test_the_same_record_keeps_the_time_it_was_first_seen() -> None:
    seen = election.observe(None, record("b", "t1"), now=10.0)
    assert election.observe(seen, record("b", "t1"), now=20.0).since == 10.0
    assert election.observe(seen, record("b", "t2", "2"), now=20.0).since == 20.0
    assert election.observe(seen, record("c", "t1", "2"), now=20.0).since == 20.0


def test_a_free_or_own_lease_may_be_taken_at_once() -> None:
    free = election.observe(None, record("", "t1"), now=0.0)
    mine = election.observe(None, record("a", "t1"), now=0.0)
    for seen in (free, mine):
        assert election.may_take(seen, identity="a", duration_seconds=15, now=0.0)


def test_another_holder_keeps_it_until_its_record_stops_changing_for_the_duration() -> None:
    seen = election.observe(None, record("b", "t1"), now=0.0)
    assert not election.may_take(seen, identity="a", duration_seconds=15, now=14.9)
    assert election.may_take(seen, identity="a", duration_seconds=15, now=15.0)


@pytest.mark.parametrize("offset", [-HOURS, HOURS])
def test_a_renew_time_hours_off_our_clock_is_judged_by_local_observation_only(
    offset: datetime.timedelta,
) -> None:
    """A holder whose clock is 5 h behind or ahead is alive while its record changes."""
    api, clock = FakeLeaseApi(), Clock()
    theirs = clock.wall_now + offset
    api.put(election.LeaseSpec(holder="b", duration_seconds=15,
                               renew_time=theirs.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
    mine = elector(api, clock, "a")
    for _ in range(10):  # b renews every 5 s, with its own (skewed) clock
        assert not mine.try_hold()
        clock.advance(5)
        theirs += datetime.timedelta(seconds=5)
        api.put(election.LeaseSpec(holder="b", duration_seconds=15,
                                   renew_time=theirs.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
    assert api.holder() == "b"
    # b stops renewing: the record stays the same for 15 s of our clock, whatever it says.
    assert not mine.try_hold()
    clock.advance(14)
    assert not mine.try_hold()
    clock.advance(1)
    assert mine.try_hold()
    assert api.holder() == "a"


# --------------------------------------------------------------------------- the elector


def test_creates_a_missing_lease_and_renews_it_through_its_resource_version() -> None:
    api, clock = FakeLeaseApi(), Clock()
    mine = elector(api, clock, "a")
    assert not mine.is_leader()
    assert mine.try_hold()
    first = api.leases[("ns", "lease")]
    assert first.spec.holder == "a" and first.spec.duration_seconds == 15
    assert first.spec.renew_time == "2026-11-24T12:00:00.000000Z"
    clock.advance(5)
    assert mine.try_hold()
    second = api.leases[("ns", "lease")]
    assert second.resource_version != first.resource_version
    assert second.spec.acquire_time == first.spec.acquire_time
    assert second.spec.renew_time == "2026-11-24T12:00:05.000000Z"
    assert second.spec.transitions == 0


def test_is_leader_while_the_last_renewal_is_younger_than_the_duration() -> None:
    api, clock = FakeLeaseApi(), Clock()
    mine = elector(api, clock, "a")
    assert mine.try_hold()
    start = clock.monotonic_now
    assert mine.is_leader(start + 14.9)
    assert not mine.is_leader(start + 15)
    api.fail_next = ConnectionError("API server away")
    clock.advance(10)
    with pytest.raises(ConnectionError):
        mine.try_hold()
    assert mine.is_leader()  # 10 s after the last renewal
    clock.advance(5)
    assert not mine.is_leader()  # the renewals failed for the whole duration


def test_a_conflict_means_lost() -> None:
    api, clock = FakeLeaseApi(), Clock()
    first, second = elector(api, clock, "a"), elector(api, clock, "b")
    assert first.try_hold()
    clock.advance(5)
    # b writes itself in between a's read and a's renewal: a's write gets a 409.
    api.between = lambda: api.put(election.LeaseSpec(holder="b", renew_time="x"))
    assert not first.try_hold()
    assert not first.is_leader()
    assert api.holder() == "b"
    assert not first.try_hold()  # b's record, just seen by a: not expired
    assert second.try_hold()  # it is b's own


def test_two_replicas_racing_for_a_free_lease_get_one_holder() -> None:
    api, clock = FakeLeaseApi(), Clock()
    electors = [elector(api, clock, f"r{i}") for i in range(5)]
    barrier = threading.Barrier(5)
    results: dict[str, bool] = {}

    def race(one: election.LeaderElector) -> None:
        barrier.wait()
        results[one.identity] = one.try_hold()

    threads = [threading.Thread(target=race, args=(one,)) for one in electors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, held in results.items() if held]
    assert winners == [api.holder()]


def test_a_standby_takes_over_after_the_holder_stops_renewing() -> None:
    api, clock = FakeLeaseApi(), Clock()
    holder, standby = elector(api, clock, "a"), elector(api, clock, "b")
    assert holder.try_hold()
    assert not standby.try_hold()
    clock.advance(14)
    assert not standby.try_hold()
    clock.advance(1)
    assert not holder.is_leader()  # the old holder stops before the standby starts
    assert standby.try_hold()
    lease = api.leases[("ns", "lease")]
    assert lease.spec.holder == "b" and lease.spec.transitions == 1
    assert not holder.try_hold()  # b's record is fresh to a


def test_release_hands_over_at_once() -> None:
    api, clock = FakeLeaseApi(), Clock()
    holder, standby = elector(api, clock, "a"), elector(api, clock, "b")
    assert holder.try_hold()
    assert not standby.try_hold()
    holder.release()
    assert not holder.is_leader()
    assert api.holder() == ""
    clock.advance(0.1)
    assert standby.try_hold()
    assert api.holder() == "b"


def test_release_leaves_a_lease_that_is_not_ours_alone() -> None:
    api, clock = FakeLeaseApi(), Clock()
    mine = elector(api, clock, "a")
    mine.release()  # never held: nothing is read or written
    assert api.writes == 0
    assert mine.try_hold()
    api.put(election.LeaseSpec(holder="b", renew_time="x"))
    writes = api.writes
    mine.release()
    assert api.holder() == "b" and api.writes == writes


def test_release_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    api, clock = FakeLeaseApi(), Clock()
    mine = elector(api, clock, "a")
    assert mine.try_hold()
    api.fail_next = ConnectionError("API server away")
    mine.release()
    assert "could not release" in caplog.text
    assert not mine.is_leader()


def test_the_written_duration_is_never_shorter_than_the_one_we_lead_by() -> None:
    api, clock = FakeLeaseApi(), Clock()
    assert elector(api, clock, "a", seconds=2.2).try_hold()
    assert api.leases[("ns", "lease")].spec.duration_seconds == 3


def test_the_holders_own_duration_governs_its_expiry() -> None:
    api, clock = FakeLeaseApi(), Clock()
    api.put(election.LeaseSpec(holder="b", duration_seconds=60, renew_time="t"))
    mine = elector(api, clock, "a", seconds=15)
    assert not mine.try_hold()
    clock.advance(30)
    assert not mine.try_hold()
    clock.advance(30)
    assert mine.try_hold()
