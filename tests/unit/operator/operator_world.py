"""A tiny in-memory cluster for driving scheduling passes in unit tests.

What it fakes: the API server's storage of tasks, plans, profiles and Jobs, and the Job
controller's verdicts (a test says when a Job completes or fails). What it does not fake:
the cache (`store.Store`) and every decision (`scheduling.decide`), which run for real.
"""

from __future__ import annotations

import copy
import datetime
import itertools
from typing import Any

from agent_api import models
from agent_operator import clock, results, scheduling, store

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
_uids = itertools.count(1)
_versions = itertools.count(1)


def task(
    name: str,
    *,
    task_id: str | None = None,
    depends_on: list[str] | None = None,
    namespace: str = "ns",
    created: datetime.datetime = T0,
    **spec: Any,
) -> dict[str, Any]:
    body = {"taskId": task_id or name.upper(), "title": spec.pop("title", f"task {name}")}
    if depends_on:
        body["dependsOn"] = depends_on
    body.update(spec)
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentTask",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{next(_uids)}",
            "generation": 1,
            "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": body,
    }


def plan(name: str, namespace: str = "ns", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentPlan",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{next(_uids)}",
            "generation": 1,
        },
        "spec": spec,
    }


def profile(name: str, namespace: str = "ns", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentProfile",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{next(_uids)}",
            "generation": 1,
        },
        "spec": spec,
    }


class World:
    """Objects by kind and (namespace, name), a clock, and the pod reports of Jobs."""

    def __init__(self, *objects: dict[str, Any], max_concurrent: int = 5) -> None:
        self.now = T0
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            k: {} for k in store.KINDS
        }
        self.reports: dict[tuple[str, str], results.PodReport | None] = {}
        self.secrets_missing: dict[tuple[str, str, str], str] = {}
        self.circuits: dict[scheduling.ScopeKey, models.CircuitStatus] = {}
        self.config = scheduling.Config(max_concurrent=max_concurrent, identity="test")
        self.created_jobs: list[str] = []
        self.deleted_jobs: list[str] = []
        self.events: list[scheduling.Event] = []
        for obj in objects:
            self.put(obj)

    def put(self, obj: dict[str, Any]) -> None:
        obj = copy.deepcopy(obj)
        kind = obj["kind"]
        meta = obj["metadata"]
        meta["resourceVersion"] = str(next(_versions))
        self.objects[kind][(meta["namespace"], meta["name"])] = obj

    def get(self, kind: str, name: str, namespace: str = "ns") -> dict[str, Any]:
        return self.objects[kind][(namespace, name)]

    def status(self, name: str, namespace: str = "ns") -> models.AgentTaskStatus:
        raw = self.get("AgentTask", name, namespace)
        return models.AgentTaskStatus.model_validate(raw.get("status") or {})

    def phase(self, name: str) -> str | None:
        return self.status(name).phase

    def edit_spec(self, kind: str, name: str, **changes: Any) -> None:
        obj = copy.deepcopy(self.get(kind, name))
        obj["spec"].update(changes)
        obj["metadata"]["generation"] += 1
        self.put(obj)

    def running_jobs(self) -> list[str]:
        return sorted(
            name
            for (_, name), job in self.objects["Job"].items()
            if not any(
                c.get("status") == "True" for c in job.get("status", {}).get("conditions", [])
            )
        )

    def finish_job(
        self,
        name: str,
        *,
        ok: bool = True,
        exit_code: int | None = None,
        message: str | None = None,
        reason: str = "BackoffLimitExceeded",
    ) -> None:
        job = copy.deepcopy(self.get("Job", name))
        kind = "Complete" if ok else "Failed"
        job["status"] = {
            "conditions": [
                {
                    "type": kind,
                    "status": "True",
                    "reason": None if ok else reason,
                    "lastTransitionTime": clock.format_time(self.now),
                }
            ],
        }
        if ok:
            job["status"]["completionTime"] = clock.format_time(self.now)
        self.put(job)
        code = exit_code if exit_code is not None else (0 if ok else 1)
        self.reports[("ns", name)] = results.PodReport(exit_code=code, message=message)

    def delete_job(self, name: str) -> None:
        del self.objects["Job"][("ns", name)]

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)

    def snapshot(self) -> scheduling.Snapshot:
        cache = store.Store()
        for kind, items in self.objects.items():
            cache.replace(kind, list(items.values()), "0")
        snap = cache.snapshot()
        snap.reports = dict(self.reports)
        known_jobs = {k for k in self.objects["Job"]}
        for entry in snap.tasks:
            for record in entry.task.status.history:
                key = (entry.key[0], record.job)
                if record.outcome == "Running" and key not in known_jobs:
                    snap.missing_jobs.add(key)
        snap.secrets = {
            key: self.secrets_missing.get(key[:3]) for key in scheduling.secrets_needed(snap)
        }
        snap.circuits = dict(self.circuits)
        return snap

    def step(self, *, fail_creates: bool = False) -> scheduling.Decision:
        """One pass, its decisions applied as the dispatcher would apply them."""
        snap = self.snapshot()
        decision = scheduling.decide(snap, self.config, self.now)
        for cancel in decision.cancels:
            self.objects["Job"].pop((cancel.namespace, cancel.job), None)
            self.deleted_jobs.append(cancel.job)
        failed: set[tuple[str, str]] = set()
        for dispatch in decision.dispatches:
            if fail_creates:
                failed.add(dispatch.key)
                continue
            job = copy.deepcopy(dispatch.job)
            job["metadata"]["uid"] = f"uid-{next(_uids)}"
            job["metadata"]["creationTimestamp"] = clock.format_time(self.now)
            self.put(job)
            self.created_jobs.append(job["metadata"]["name"])
        for key, status in decision.statuses.items():
            obj = copy.deepcopy(self.objects["AgentTask"][key])
            previous = obj.get("status")
            obj["status"] = (
                scheduling.status_after_failed_create(
                    next(d for d in decision.dispatches if d.key == key), "boom", 1, self.now
                ).to_api()
                if key in failed
                else status.to_api()
            )
            if obj["status"] != previous:
                self.put(obj)
        for scope, plan_status in decision.plan_statuses.items():
            obj = copy.deepcopy(self.objects["AgentPlan"][scope])
            if obj.get("status") != plan_status.to_api():
                obj["status"] = plan_status.to_api()
                self.put(obj)
        for key, refs in decision.owner_refs.items():
            obj = copy.deepcopy(self.objects["AgentTask"][key])
            obj["metadata"]["ownerReferences"] = refs
            self.put(obj)
        self.circuits.update(decision.circuits)
        self.events.extend(decision.events)
        return decision

    def settle(self, limit: int = 5) -> None:
        """Passes until nothing changes (a level-based pass must reach a fixed point)."""
        for _ in range(limit):
            before = copy.deepcopy(self.objects)
            self.step()
            if before == self.objects:
                return
        raise AssertionError("scheduling did not reach a fixed point")
