"""Several sidecars on one plan (the chart runs one per operator replica): with leader
election only the Lease holder syncs, and a standby takes over when the holder stops."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import kubernetes
import pytest

from tests.integration.test_sync_sidecar import (
    PLAN,
    Tasks,
    plan_file,
    running,
    settings_for,
    tasks,
    wait_for,
)

pytestmark = pytest.mark.integration
__all__ = ["plan_file", "tasks"]  # fixtures, used by name


def holder(api: kubernetes.client.ApiClient, namespace: str) -> str | None:
    lease = kubernetes.client.CoordinationV1Api(api).read_namespaced_lease(
        f"agent-sync-{PLAN}", namespace)
    return str(lease.spec.holder_identity)


def synced(registry: object) -> float:
    return float(registry.syncs.labels("succeeded")._value.get())  # type: ignore[attr-defined]


def test_only_the_lease_holder_syncs_and_a_standby_takes_over(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks,
    api: kubernetes.client.ApiClient,
) -> None:
    def settings(identity: str) -> object:
        return settings_for(cluster, namespace, plan_file, leader_election=True,
                            lease_seconds=2, AGENT_SYNC_IDENTITY=identity)

    with running(settings("replica-a")) as first:  # type: ignore[arg-type]
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        assert holder(api, namespace) == "replica-a"
        with running(settings("replica-b")) as second:  # type: ignore[arg-type]
            plan_file.write_text(plan_file.read_text().replace(
                "T001.004 Add structured JSON logging", "T001.004 Add structured logging"))
            wait_for("the edit synced", lambda: tasks.get("T001.004")["spec"]["title"]
                     .startswith("Add structured logging"))
            assert holder(api, namespace) == "replica-a"
            assert synced(second) == 0, "the standby synced"
            assert synced(first) >= 2
        # replica-b stopped; now the holder stops too, and a third replica takes over.
    with running(settings("replica-c")) as third:  # type: ignore[arg-type]
        wait_for("replica-c holds the lease", lambda: holder(api, namespace) == "replica-c",
                 timeout=20)
        plan_file.write_text(plan_file.read_text().replace(
            "T001.004 Add structured logging", "T001.004 Add JSON logging"))
        wait_for("the edit synced by the new holder",
                 lambda: tasks.get("T001.004")["spec"]["title"].startswith("Add JSON logging"))
        wait_for("the sync counted", lambda: synced(third) >= 1)  # counted after applying


def test_a_clean_stop_releases_the_lease_and_a_standby_takes_over_at_once(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks,
    api: kubernetes.client.ApiClient,
) -> None:
    """With a 30 s lease, a standby that waited for expiry would need 30 s or more; the
    released Lease is taken at the standby's next try (every 10 s)."""
    def settings(identity: str) -> object:
        return settings_for(cluster, namespace, plan_file, leader_election=True,
                            lease_seconds=30, AGENT_SYNC_IDENTITY=identity)

    holder_stack, standby_stack = contextlib.ExitStack(), contextlib.ExitStack()
    with standby_stack:
        with holder_stack:
            holder_stack.enter_context(running(settings("replica-a")))  # type: ignore[arg-type]
            wait_for("27 tasks", lambda: len(tasks.all()) == 27)
            assert holder(api, namespace) == "replica-a"
            standby = standby_stack.enter_context(
                running(settings("replica-b"))  # type: ignore[arg-type]
            )
        stopped = time.monotonic()  # replica-a stopped cleanly and released the Lease
        wait_for("replica-b holds the lease", lambda: holder(api, namespace) == "replica-b",
                 timeout=20)
        assert time.monotonic() - stopped < 30, "the standby waited for the lease to expire"
        plan_file.write_text(plan_file.read_text().replace(
            "T001.004 Add structured JSON logging", "T001.004 Add released logging"))
        wait_for("the edit synced by the new holder", lambda: tasks.get("T001.004")["spec"][
            "title"].startswith("Add released logging"))
        wait_for("the sync counted", lambda: synced(standby) >= 1)  # counted after applying
