"""An in-memory Lease store behind `election.LeaseApi`, and a clock the tests move."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Callable

from agent_kube import election


@dataclasses.dataclass
class Clock:
    """Local monotonic seconds and a wall clock that may be skewed from the others'."""

    monotonic_now: float = 1000.0
    wall_now: datetime.datetime = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)

    def monotonic(self) -> float:
        return self.monotonic_now

    def wall(self) -> datetime.datetime:
        return self.wall_now

    def advance(self, seconds: float) -> None:
        self.monotonic_now += seconds
        self.wall_now += datetime.timedelta(seconds=seconds)


class FakeLeaseApi:
    """One namespace's Leases, written only through their resourceVersion."""

    def __init__(self) -> None:
        self.leases: dict[tuple[str, str], election.Lease] = {}
        self.writes = 0
        self.fail_next: Exception | None = None  # raised by the next call, once
        self.between: Callable[[], None] | None = None  # runs once between a read and a write
        self.answering = threading.Event()  # cleared: every call hangs until it is set again
        self.answering.set()
        self._version = 0

    def _next(self, spec: election.LeaseSpec) -> election.Lease:
        self._version += 1
        self.writes += 1
        return election.Lease(spec=spec, resource_version=str(self._version))

    def _maybe_fail(self) -> None:
        self.answering.wait(10)
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error

    def read(self, namespace: str, name: str) -> election.Lease | None:
        self._maybe_fail()
        return self.leases.get((namespace, name))

    def create(self, namespace: str, name: str, spec: election.LeaseSpec) -> election.Lease:
        self._maybe_fail()
        if (namespace, name) in self.leases:
            raise election.LeaseConflict("exists")
        lease = self.leases[(namespace, name)] = self._next(spec)
        return lease

    def replace(
        self, namespace: str, name: str, spec: election.LeaseSpec, resource_version: str
    ) -> election.Lease:
        self._maybe_fail()
        if self.between is not None:
            between, self.between = self.between, None
            between()
        current = self.leases.get((namespace, name))
        if current is None or current.resource_version != resource_version:
            raise election.LeaseConflict("changed")
        lease = self.leases[(namespace, name)] = self._next(spec)
        return lease

    def put(self, spec: election.LeaseSpec, namespace: str = "ns", name: str = "lease") -> None:
        """Another replica's write (no questions asked)."""
        self.leases[(namespace, name)] = self._next(spec)

    def holder(self, namespace: str = "ns", name: str = "lease") -> str:
        return self.leases[(namespace, name)].spec.holder


def typed(api: FakeLeaseApi) -> election.LeaseApi:
    """The fake, checked by the type checker to fit the boundary it stands in for."""
    return api
