"""One writer per plan: a coordination.k8s.io Lease held by the replica that syncs.

In the Helm chart the sidecar runs in every operator replica; with `--leader-election`
only the holder of the Lease `agent-sync-<plan>` syncs, the others stand by and take
over when it stops renewing. Two sidecars writing the same file or pushing to the same
branch would not lose data (writes are atomic, pushes rebase), but would do all the
work twice and race each other's commits.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kubernetes

log = logging.getLogger(__name__)


def may_hold(
    *,
    holder: str | None,
    renewed: datetime.datetime | None,
    duration_seconds: float,
    identity: str,
    now: datetime.datetime,
) -> bool:
    """Whether `identity` may hold (or go on holding) a Lease in this state: it is free,
    already ours, or its holder has not renewed it within its duration."""
    if not holder or holder == identity:
        return True
    if renewed is None:
        return True
    return (now - renewed).total_seconds() > duration_seconds


class LeaseKeeper:
    """Takes and renews the Lease; every change goes through the Lease's resourceVersion,
    so two replicas can never both believe they hold it."""

    def __init__(
        self,
        client: kubernetes.client.ApiClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        duration_seconds: float,
    ) -> None:
        # Typed as Any: Leases are written as plain dicts (MicroTime needs exact formatting).
        self._api: Any = kubernetes.client.CoordinationV1Api(client)
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration_seconds = duration_seconds

    def try_hold(self) -> bool:
        """Takes or renews the Lease; False while another replica holds it."""
        now = datetime.datetime.now(datetime.UTC)
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                raise
            return self._create(now)
        spec = lease.spec
        if not may_hold(
            holder=spec.holder_identity,
            renewed=spec.renew_time,
            duration_seconds=float(spec.lease_duration_seconds or self.duration_seconds),
            identity=self.identity,
            now=now,
        ):
            return False
        taking = spec.holder_identity != self.identity
        if taking:
            log.info("took the lease %s from %s", self.name, spec.holder_identity or "nobody")
        body = self._body(
            now,
            acquired=now if taking else spec.acquire_time,
            transitions=(spec.lease_transitions or 0) + (1 if taking else 0),
        )
        body["metadata"]["resourceVersion"] = lease.metadata.resource_version
        try:
            self._api.replace_namespaced_lease(self.name, self.namespace, body)
        except kubernetes.client.ApiException as error:
            if error.status == 409:  # another replica wrote it first
                return False
            raise
        return True

    def _body(
        self, now: datetime.datetime, *, acquired: datetime.datetime | None, transitions: int
    ) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.duration_seconds)),
                "acquireTime": _micro_time(acquired or now),
                "renewTime": _micro_time(now),
                "leaseTransitions": transitions,
            },
        }

    def _create(self, now: datetime.datetime) -> bool:
        try:
            self._api.create_namespaced_lease(
                self.namespace, self._body(now, acquired=now, transitions=0)
            )
        except kubernetes.client.ApiException as error:
            if error.status == 409:
                return False
            raise
        log.info("took the new lease %s", self.name)
        return True


def _micro_time(moment: datetime.datetime) -> str:
    """A Lease's MicroTime: RFC 3339 with exactly six fractional digits, in UTC."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
