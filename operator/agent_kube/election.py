"""One writer among replicas: leader election on a coordination.k8s.io Lease.

The operator and the sync sidecar run in every replica of the operator Deployment; only
the holder of a Lease writes (dispatches Jobs, or syncs a plan). The rules are
client-go's `leaderelection`:

- A Lease is free when it has no holder, is ours, or has **not changed for its
  `leaseDurationSeconds` as measured by this replica's monotonic clock** since this replica
  first saw its current record. The holder's `renewTime` is compared for equality only and
  never with the local wall clock, so clocks that disagree by hours change nothing.
- Every write goes through the Lease's resourceVersion: of two replicas racing for it,
  the API server accepts one and answers the other 409, which counts as lost.
- A leader knows when it last renewed (read from the monotonic clock *before* the renewal
  was sent), and leads only while that is younger than the lease duration
  (`is_leader`). A standby that saw the renewal land waits at least as long before it
  takes over, so the two never both believe they lead. Writers check `is_leader` again
  right before each batch of writes.
- On a clean stop the leader clears `holderIdentity` (`release`) and a standby takes over
  at its next try instead of waiting for the lease to expire.

The decisions (`observe`, `expired`, `may_take`) are pure functions of what was read and
when; `LeaderElector` does the reads and writes through the small `LeaseApi` boundary,
whose real implementation is `KubernetesLeaseApi`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import kubernetes
from agent_api import timefmt

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the records


@dataclasses.dataclass(frozen=True)
class LeaseSpec:
    """The fields of a Lease's spec that the election reads and writes."""

    holder: str = ""  # "" when nobody holds it
    duration_seconds: int | None = None
    acquire_time: str | None = None  # MicroTime text, as the API server returned it
    renew_time: str | None = None  # MicroTime text; compared for equality, never parsed
    transitions: int = 0


@dataclasses.dataclass(frozen=True)
class Lease:
    """A Lease as read or written: its spec and the resourceVersion of that state."""

    spec: LeaseSpec
    resource_version: str


@dataclasses.dataclass(frozen=True)
class Seen:
    """A Lease record as this replica observed it, and since when (local monotonic time)."""

    holder: str
    renew_time: str | None
    resource_version: str
    since: float  # monotonic seconds at which this replica first saw this very record


class LeaseConflict(Exception):
    """The API server refused a write because the Lease changed (or exists) already: 409."""


# --------------------------------------------------------------------------- pure decisions


def observe(previous: Seen | None, lease: Lease, now: float) -> Seen:
    """What this replica knows after reading `lease` at monotonic time `now`: the same record
    keeps the time it was first seen; any change (a renewal, a new holder) restarts it."""
    record = (lease.spec.holder, lease.spec.renew_time, lease.resource_version)
    if previous is not None and (
        previous.holder, previous.renew_time, previous.resource_version
    ) == record:
        return previous
    return Seen(
        holder=record[0], renew_time=record[1], resource_version=record[2], since=now
    )


def expired(seen: Seen, duration_seconds: float, now: float) -> bool:
    """Whether the holder has gone silent: its record unchanged for the whole duration, by
    this replica's own monotonic clock."""
    return now - seen.since >= duration_seconds


def may_take(seen: Seen, *, identity: str, duration_seconds: float, now: float) -> bool:
    """Whether `identity` may write itself into the Lease: free, ours, or expired."""
    return not seen.holder or seen.holder == identity or expired(seen, duration_seconds, now)


# --------------------------------------------------------------------------- the boundary


class LeaseApi(Protocol):
    """Reads and writes of one kind of object, a Lease; tests fake exactly this."""

    def read(self, namespace: str, name: str) -> Lease | None:
        """The Lease, or None when it does not exist."""
        ...

    def create(self, namespace: str, name: str, spec: LeaseSpec) -> Lease:
        """Creates the Lease; LeaseConflict when it exists already."""
        ...

    def replace(self, namespace: str, name: str, spec: LeaseSpec, resource_version: str) -> Lease:
        """Replaces the Lease if it is still at `resource_version`; LeaseConflict if not."""
        ...


class KubernetesLeaseApi:
    """`LeaseApi` on `kubernetes.client.CoordinationV1Api`.

    Leases travel as raw JSON (`_preload_content=False`) so that `renewTime` stays the exact
    text the API server wrote: the election compares it, and never parses it.
    """

    def __init__(self, client: kubernetes.client.ApiClient, *, timeout: float = 10.0) -> None:
        self._api: Any = kubernetes.client.CoordinationV1Api(client)
        self._timeout = timeout  # seconds per request: a hung call must not outlast a lease

    def read(self, namespace: str, name: str) -> Lease | None:
        try:
            answer = self._api.read_namespaced_lease(
                name, namespace, _preload_content=False, _request_timeout=self._timeout
            )
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return _lease_from(answer)

    def create(self, namespace: str, name: str, spec: LeaseSpec) -> Lease:
        body = _body(namespace, name, spec, resource_version=None)
        try:
            answer = self._api.create_namespaced_lease(
                namespace, body, _preload_content=False, _request_timeout=self._timeout
            )
        except kubernetes.client.ApiException as error:
            if error.status == 409:
                raise LeaseConflict(f"the Lease {namespace}/{name} exists already") from None
            raise
        return _lease_from(answer)

    def replace(self, namespace: str, name: str, spec: LeaseSpec, resource_version: str) -> Lease:
        body = _body(namespace, name, spec, resource_version=resource_version)
        try:
            answer = self._api.replace_namespaced_lease(
                name, namespace, body, _preload_content=False, _request_timeout=self._timeout
            )
        except kubernetes.client.ApiException as error:
            if error.status == 409:
                raise LeaseConflict(f"the Lease {namespace}/{name} changed meanwhile") from None
            raise
        return _lease_from(answer)


def _body(
    namespace: str, name: str, spec: LeaseSpec, *, resource_version: str | None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    fields: dict[str, Any] = {
        "holderIdentity": spec.holder,
        "leaseDurationSeconds": spec.duration_seconds,
        "acquireTime": spec.acquire_time,
        "renewTime": spec.renew_time,
        "leaseTransitions": spec.transitions,
    }
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {k: v for k, v in fields.items() if v is not None},
    }


def _lease_from(answer: Any) -> Lease:
    raw = json.loads(answer.data)
    spec = raw.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    return Lease(
        spec=LeaseSpec(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=int(duration) if duration is not None else None,
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        ),
        resource_version=str(raw.get("metadata", {}).get("resourceVersion", "")),
    )


# --------------------------------------------------------------------------- the elector


class LeaderElector:
    """Takes, renews and releases one Lease for one identity.

    Blocking; one caller at a time (a lock serialises `try_hold` and `release`, so a thread
    pool such as `asyncio.to_thread` may call it). `is_leader` never blocks.
    """

    def __init__(
        self,
        api: LeaseApi,
        *,
        namespace: str,
        name: str,
        identity: str,
        duration_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime.datetime] = timefmt.now_utc,  # only for the times written
    ) -> None:
        if duration_seconds <= 0:
            raise ValueError("the lease duration must be positive")
        self._api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration_seconds = duration_seconds
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._seen: Seen | None = None
        self._renewed: float | None = None  # monotonic time before our last accepted write
        self.holder: str | None = None  # the holder at the last read; None before any

    @property
    def renew_interval(self) -> float:
        """How often a holder renews (and a standby tries): a third of the duration."""
        return self.duration_seconds / 3

    def is_leader(self, now: float | None = None) -> bool:
        """Whether our last successful renewal is younger than the lease duration."""
        renewed = self._renewed
        if renewed is None:
            return False
        now = self._monotonic() if now is None else now
        return now - renewed < self.duration_seconds

    def seconds_left(self, now: float | None = None) -> float | None:
        """How long we go on leading without another renewal; None when not leading."""
        renewed = self._renewed
        if renewed is None:
            return None
        now = self._monotonic() if now is None else now
        left = renewed + self.duration_seconds - now
        return left if left > 0 else None

    def try_hold(self) -> bool:
        """Creates, takes or renews the Lease; False while another replica holds it.

        API errors other than a conflict propagate; leadership then lapses by itself once
        the last renewal is older than the duration.
        """
        with self._lock:
            started = self._monotonic()
            lease = self._api.read(self.namespace, self.name)
            if lease is None:
                return self._write(started, None, self._spec(acquired=None, transitions=0))
            self._seen = observe(self._seen, lease, self._monotonic())
            self.holder = lease.spec.holder or None
            duration = float(lease.spec.duration_seconds or self.duration_seconds)
            if not may_take(
                self._seen, identity=self.identity, duration_seconds=duration, now=self._monotonic()
            ):
                self._lose(lease.spec.holder)
                return False
            taking = lease.spec.holder != self.identity
            spec = self._spec(
                acquired=None if taking else lease.spec.acquire_time,
                transitions=lease.spec.transitions + (1 if taking else 0),
            )
            if taking:
                log.info(
                    "taking the lease %s/%s from %s",
                    self.namespace, self.name, lease.spec.holder or "nobody",
                )
            return self._write(started, lease.resource_version, spec)

    def release(self) -> None:
        """Stops leading and clears the holder, so that a standby takes over at once.

        Best effort: a failure is logged, and the Lease then expires by itself.
        """
        with self._lock:
            was_leader = self._renewed is not None
            self._renewed = None
            if not was_leader:
                return
            try:
                lease = self._api.read(self.namespace, self.name)
                if lease is None or lease.spec.holder != self.identity:
                    return
                now = timefmt.format_time(self._wall())
                spec = dataclasses.replace(
                    lease.spec, holder="", duration_seconds=1, acquire_time=now, renew_time=now
                )
                self._api.replace(self.namespace, self.name, spec, lease.resource_version)
                log.info("released the lease %s/%s", self.namespace, self.name)
            except LeaseConflict:
                pass  # someone else wrote it: it is not ours to clear any more
            except Exception as error:
                log.warning(
                    "could not release the lease %s/%s (%s); it expires in %.0fs",
                    self.namespace, self.name, error, self.duration_seconds,
                )

    def _spec(self, *, acquired: str | None, transitions: int) -> LeaseSpec:
        now = timefmt.format_time(self._wall())
        return LeaseSpec(
            holder=self.identity,
            # Rounded up: a standby never waits less than we believe we lead.
            duration_seconds=max(1, math.ceil(self.duration_seconds)),
            acquire_time=acquired or now,
            renew_time=now,
            transitions=transitions,
        )

    def _write(self, started: float, resource_version: str | None, spec: LeaseSpec) -> bool:
        try:
            if resource_version is None:
                written = self._api.create(self.namespace, self.name, spec)
                log.info("created the lease %s/%s", self.namespace, self.name)
            else:
                written = self._api.replace(self.namespace, self.name, spec, resource_version)
        except LeaseConflict:
            self._lose(None)
            return False
        self._renewed = started
        self._seen = observe(self._seen, written, self._monotonic())
        self.holder = self.identity
        return True

    def _lose(self, holder: str | None) -> None:
        if self._renewed is not None:
            log.warning(
                "lost the lease %s/%s%s", self.namespace, self.name,
                f" to {holder}" if holder else "",
            )
        self._renewed = None
