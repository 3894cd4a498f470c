"""A tiny in-memory cluster for driving scheduling passes in unit tests.

What it fakes: the API server behind the operator's boundary (fake_cluster.FakeCluster:
storage, merge patches, the pods of finished Jobs, the Secrets' metadata, the watch that feeds the
cache) and the Job controller's verdicts (a test says when a Job completes or fails). What
it does not fake: the cache (`store.Store`), the gatherer, every decision
(`scheduling.decide`) and the actuator that writes them, which run as the dispatcher runs
them, through `Dispatcher.run_pass`. Time is the world's clock, set by the tests.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
import json
from typing import Any

from agent_api import models, timefmt
from agent_operator import dispatcher, egress, jobs, kube, scheduling, store
from fake_cluster import FakeCluster, finished_pod

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
_uids = itertools.count(1)


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
    """A fake cluster, the real cache and dispatcher over it, and a clock."""

    def __init__(
        self,
        *objects: dict[str, Any],
        max_concurrent: int = 5,
        namespace_weights: dict[str, float] | None = None,
        policy: scheduling.Policy | None = None,  # default: no limits
    ) -> None:
        self.now = T0
        self.cluster = FakeCluster()
        self.cache = store.Store()
        self.cluster.watchers.append(lambda kind, event, raw: self.cache.apply(kind, event, raw))
        self.config = scheduling.Config(
            max_concurrent=max_concurrent,
            identity="test",
            namespace_weights=tuple(sorted((namespace_weights or {}).items())),
            policy=policy if policy is not None else scheduling.Policy.permissive(),
        )
        self.dispatcher = dispatcher.Dispatcher(
            client=self.cluster,
            store=self.cache,
            config=self.config,
            namespaces=["ns"],
            egress_policy=egress.EgressConfig(),
            now=lambda: self.now,
            monotonic=lambda: (self.now - T0).total_seconds(),
        )
        self.secrets = self.cluster.secrets  # (ns, name) -> SecretMeta; default: opted in
        self.events: list[scheduling.Event] = []
        for obj in objects:
            self.put(obj)

    @property
    def created_jobs(self) -> list[str]:
        return self.cluster.created

    @property
    def deleted_jobs(self) -> list[str]:
        return self.cluster.deleted

    @property
    def objects(self) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
        return self.cluster.objects

    def put(self, obj: dict[str, Any]) -> None:
        self.cluster.put(obj)

    def task_input(self, job: str, namespace: str = "ns") -> dict[str, Any]:
        """The task input the Job's pod reads: the Job's own annotation, or for a large
        input its ConfigMap, which the Job owns."""
        carried = jobs.carried_task_input(self.get("Job", job, namespace))
        if carried is not None:
            assert (namespace, job) not in self.cluster.config_maps
            return dict(json.loads(carried))
        config_map = self.cluster.config_maps[(namespace, job)]
        owner = config_map["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("Job", job)
        assert owner["uid"] == self.get("Job", job, namespace)["metadata"]["uid"]
        return dict(json.loads(config_map["data"]["task.json"]))

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
            if not job["metadata"].get("deletionTimestamp")  # being deleted: not running
            and not any(
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
        terminated_reason: str | None = None,
        pod_conditions: list[dict[str, Any]] | None = None,
        watched: bool = True,
    ) -> None:
        """The Job controller's verdict, and the pod the kubelet leaves behind (which the
        pod watch shows the operator unless `watched` is False)."""
        job = copy.deepcopy(self.get("Job", name))
        kind = "Complete" if ok else "Failed"
        job["status"] = {
            "conditions": [
                {
                    "type": kind,
                    "status": "True",
                    "reason": None if ok else reason,
                    "lastTransitionTime": timefmt.format_time(self.now),
                }
            ],
        }
        if ok:
            job["status"]["completionTime"] = timefmt.format_time(self.now)
        self.put(job)
        code = exit_code if exit_code is not None else (0 if ok else 1)
        pod = finished_pod(job, exit_code=code, message=message)
        if terminated_reason is not None:
            pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] = (
                terminated_reason
            )
        pod["status"]["conditions"] = pod_conditions or []
        pod["spec"] = job["spec"]["template"]["spec"]
        self.cluster.pods[("ns", name)] = [pod]
        if watched:  # the pod watch shows it to the operator, as kopf's does
            self.dispatcher.pod_reports.apply("MODIFIED", copy.deepcopy(pod))

    def pod_waits(self, name: str, reason: str, message: str, *, watched: bool = True) -> None:
        """The attempt's pod exists but its agent container waits (image, config); the pod
        watch shows it to the operator unless `watched` is False."""
        job = self.get("Job", name)
        pod = {
            "metadata": {
                "name": f"{name}-pod",
                "namespace": "ns",
                "creationTimestamp": timefmt.format_time(self.now),
                "labels": {"batch.kubernetes.io/job-name": name},
            },
            "spec": job["spec"]["template"]["spec"],
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "agent",
                        "image": job["spec"]["template"]["spec"]["containers"][0]["image"],
                        "state": {"waiting": {"reason": reason, "message": message}},
                    }
                ],
            },
        }
        self.cluster.pods[("ns", name)] = [pod]
        if watched:
            self.dispatcher.pod_reports.apply("MODIFIED", copy.deepcopy(pod))

    def delete_job(self, name: str) -> None:
        """A person deletes the Job (its finalizer holds it until the operator lets go)."""
        self.cluster.delete("Job", "ns", name)

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)

    def step(self, *, fail_creates: bool = False) -> scheduling.Decision:
        """One pass of the real dispatcher (gather, decide, actuate) against the fake."""
        self.cluster.now_stamp = timefmt.format_time(self.now)
        self.cluster.refuse_creates = (
            kube.ApiError(403, "Forbidden", "boom") if fail_creates else None
        )
        async def one_pass() -> scheduling.Decision:
            decision = await self.dispatcher.run_pass()
            await self.dispatcher.actuator.drain()  # the Jobs it lets go, in the background
            return decision

        try:
            decision = asyncio.run(one_pass())
        finally:
            self.cluster.refuse_creates = None
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
