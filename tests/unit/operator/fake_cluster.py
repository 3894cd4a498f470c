"""A fake of the operator's API boundary (agent_operator.api.ClusterApi), in memory.

What it fakes: the API server's storage (objects by kind, resourceVersions, uids), JSON
merge patches of status, AlreadyExists on a duplicate Job, the pods of finished Jobs, the
Secret check, Events, and the watch (every change is handed to the subscribers, as kopf's
watch events reach the cache). What it does not fake: anything of the operator itself.
Typed against the Protocol, so mypy proves it fits where the real client goes.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

from agent_api import models
from agent_operator import api, kube
from agent_operator.scheduling import policy

_uids = itertools.count(1)
_versions = itertools.count(1)

Watcher = Callable[[str, str, dict[str, Any]], None]  # (kind, event type, object)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386: None removes a key, objects merge, anything else replaces."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


class FakeCluster:
    """Objects by kind and (namespace, name); counts every write the operator makes."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            kind: {} for kind in ("AgentTask", "AgentPlan", "AgentProfile", "Job")
        }
        self.pods: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (ns, Job) -> pods
        # (ns, Secret) -> what the operator may read of it; absent: no such Secret. Every
        # Secret is an opted-in agent credential with the usual keys unless a test says not.
        self.secrets: dict[tuple[str, str], policy.SecretMeta] = {}
        self.secret_values: dict[tuple[str, str, str], str] = {}
        self.secrets_default: policy.SecretMeta | None = policy.SecretMeta(
            labels={policy.LABEL_AGENT_CREDENTIAL: "true"},
            annotations={policy.ANNOTATION_ALLOWED_HOSTS: "*"},
            keys=frozenset({"token", models.DEFAULT_API_KEY_KEY}),
        )
        self.network_policies: dict[tuple[str, str], dict[str, Any]] = {}
        self.refuse_network_policies: kube.ApiError | None = None
        self.refuse_creates: kube.ApiError | None = None
        self.created: list[str] = []
        self.pod_reads = 0  # lists of a Job's pods
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.job_event_list: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.released: list[str] = []  # Jobs whose result finalizer came off
        self.released_pods: list[str] = []
        self.writes = 0  # creates, deletes and patches the operator made
        self.watchers: list[Watcher] = []
        self.now_stamp = "2026-01-01T00:00:00Z"

    # ------------------------------------------------------------- the tests' side

    def put(self, obj: dict[str, Any], *, event: str = "MODIFIED") -> dict[str, Any]:
        """Stores an object as a client would (a new resourceVersion; a uid when new)."""
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{next(_uids)}")
        meta["resourceVersion"] = str(next(_versions))
        self.objects[obj["kind"]][(meta["namespace"], meta["name"])] = obj
        self._notify(obj["kind"], event, obj)
        return obj

    def remove(self, kind: str, namespace: str, name: str) -> None:
        obj = self.objects[kind].pop((namespace, name), None)
        if obj is not None:
            self._notify(kind, "DELETED", obj)

    def _notify(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        for watcher in self.watchers:
            watcher(kind, event, copy.deepcopy(obj))

    # ------------------------------------------------------------- ClusterApi

    async def list_all(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item,
    ) -> tuple[list[dict[str, Any]], str]:
        kind = next(
            (k for k, plural in kube.PLURALS.items() if f"/{plural}" in path),
            "Job",
        )
        items = [transform(copy.deepcopy(o)) for o in self.objects[kind].values()]
        return items, str(next(_versions))

    async def create_job(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if self.refuse_creates is not None:
            raise self.refuse_creates
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        if key in self.objects["Job"]:
            raise kube.ApiError(409, "AlreadyExists", f"jobs {key[1]} already exists")
        self.writes += 1
        job = copy.deepcopy(manifest)
        job["metadata"]["creationTimestamp"] = self.now_stamp
        self.created.append(key[1])
        return copy.deepcopy(self.put(job, event="ADDED"))

    async def create_config_map(self, manifest: dict[str, Any]) -> dict[str, Any]:
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        if key in self.config_maps:
            raise kube.ApiError(409, "AlreadyExists", f"configmaps {key[1]} already exists")
        self.config_maps[key] = copy.deepcopy(manifest)
        return copy.deepcopy(manifest)

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        job = self.objects["Job"].get((namespace, name))
        return copy.deepcopy(job) if job else None

    async def delete_job(self, namespace: str, name: str) -> None:
        self.writes += 1
        self.deleted.append(name)
        self.delete("Job", namespace, name)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """As the API server deletes: an object with finalizers only gets a deletionTimestamp."""
        obj = self.objects[kind].get((namespace, name))
        if obj is None:
            return
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                updated = copy.deepcopy(obj)
                updated["metadata"]["deletionTimestamp"] = self.now_stamp
                self.put(updated)
            return
        self.remove(kind, namespace, name)

    async def job_events(self, namespace: str, job: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.job_event_list.get((namespace, job), []))

    async def remove_finalizer(self, kind: str, namespace: str, name: str, finalizer: str) -> None:
        self.writes += 1
        if kind == "Pod":
            for pods in self.pods.values():
                for pod in pods:
                    if pod["metadata"]["name"] == name and finalizer in pod["metadata"].get(
                        "finalizers", []
                    ):
                        pod["metadata"]["finalizers"].remove(finalizer)
                        self.released_pods.append(name)
            return
        obj = self.objects[kind].get((namespace, name))
        if obj is None or finalizer not in obj["metadata"].get("finalizers", []):
            return
        updated = copy.deepcopy(obj)
        updated["metadata"]["finalizers"].remove(finalizer)
        self.released.append(name)
        if updated["metadata"].get("deletionTimestamp") and not updated["metadata"]["finalizers"]:
            self.remove(kind, namespace, name)
        else:
            self.put(updated)

    async def job_pods(self, namespace: str, job: str) -> list[dict[str, Any]]:
        self.pod_reads += 1
        return copy.deepcopy(self.pods.get((namespace, job), []))

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        current = self.objects[kind].get((namespace, name))
        if current is None:
            raise kube.ApiError(404, "NotFound", f"{kind} {name} not found")
        self.writes += 1
        updated = copy.deepcopy(current)
        updated["status"] = _merge(current.get("status") or {}, status)
        return copy.deepcopy(self.put(updated))

    async def patch_owner_references(
        self, kind: str, namespace: str, name: str, refs: list[dict[str, Any]], uid: str
    ) -> dict[str, Any]:
        current = self.objects[kind].get((namespace, name))
        if current is None or current["metadata"].get("uid") != uid:
            raise kube.ApiError(409, "Conflict", "the object was replaced")
        self.writes += 1
        updated = copy.deepcopy(current)
        updated["metadata"]["ownerReferences"] = refs
        return copy.deepcopy(self.put(updated))

    async def secret_meta(self, namespace: str, name: str) -> policy.SecretMeta | None:
        return self.secrets.get((namespace, name), self.secrets_default)

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return self.secret_values.get((namespace, name, key))

    async def ensure_network_policy(self, manifest: dict[str, Any]) -> None:
        if self.refuse_network_policies is not None:
            raise self.refuse_network_policies
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        if self.network_policies.get(key) != manifest:
            self.writes += 1
            self.network_policies[key] = copy.deepcopy(manifest)

    async def create_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def finished_pod(job: dict[str, Any], *, exit_code: int, message: str | None) -> dict[str, Any]:
    """The pod of a finished attempt Job, as the kubelet leaves it."""
    terminated: dict[str, Any] = {"exitCode": exit_code}
    if message is not None:
        terminated["message"] = message
    return {
        "metadata": {
            "finalizers": list(job["spec"]["template"]["metadata"].get("finalizers", [])),
            "name": f"{job['metadata']['name']}-pod",
            "namespace": job["metadata"]["namespace"],
            "creationTimestamp": job["metadata"].get("creationTimestamp"),
            "labels": {
                models.LABEL_TASK: job["metadata"]["labels"][models.LABEL_TASK],
                "batch.kubernetes.io/job-name": job["metadata"]["name"],
            },
        },
        "status": {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "containerStatuses": [{"name": "agent", "state": {"terminated": terminated}}],
        },
    }


def _fits(fake: FakeCluster) -> api.ClusterApi:
    return fake  # mypy checks FakeCluster against the Protocol here
