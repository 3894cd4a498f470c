"""The only module that talks to the Kubernetes API.

Writes are server-side applies with the field manager `agent-sync` (the fields the
markdown expresses), `agent-sync-rerun` (`spec.rerun`, kept apart so that the
markdown-derived apply, identical to `render`, never removes it) and `agent-sync-prune`
(the suspend and annotation that mark a task whose line left the file; see `pruning`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import kubernetes
from agent_api import models
from kubernetes.client.exceptions import ApiException

from agent_sync import pruning
from agent_sync.render import MANAGER, Manifest

RERUN_MANAGER = "agent-sync-rerun"
APPLY = "application/apply-patch+yaml"
log = logging.getLogger(__name__)


def describe(error: BaseException) -> str:
    """One line for a log: what failed and what to do."""
    if isinstance(error, ApiException):
        if error.status in (401, 403):
            return (
                f"the API server refused access ({error.status} {error.reason}): give the "
                "sidecar's ServiceAccount get/list/watch/create/patch/delete on agenttasks "
                "and agentplans"
            )
        missing = _missing_namespace(error)
        if missing is not None:
            return (
                f"the namespace {missing} does not exist: create it (kubectl create namespace "
                f"{missing}) or fix --namespace / AGENT_SYNC_NAMESPACE"
            )
        if error.status == 404:
            return (
                "the API server does not know agenttasks/agentplans (404): install the CRDs "
                "(kubectl apply -f crds/)"
            )
        if error.status == 422:
            return f"the API server rejected an object (422): {error.body}"
        return f"API error {error.status} {error.reason}; retrying"
    return f"{type(error).__name__}: {error}; is the API server reachable? retrying"


def _missing_namespace(error: ApiException) -> str | None:
    """The namespace a 404 says is missing (not a missing CRD or object), if it says so."""
    if error.status != 404:
        return None
    try:
        details = json.loads(error.body or "{}").get("details") or {}
    except (ValueError, AttributeError):
        return None
    if details.get("kind") == "namespaces" and details.get("name"):
        return str(details["name"])
    return None


class Cluster:
    """AgentTasks and the AgentPlan of one plan in one namespace."""

    def __init__(self, client: kubernetes.client.ApiClient, *, namespace: str, plan: str):
        self.custom = kubernetes.client.CustomObjectsApi(client)
        self.namespace = namespace
        self.plan = plan
        self.conflicts = 0  # 409 answers seen

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(models.GROUP, models.VERSION, self.namespace, *args, **kwargs)
        except ApiException as error:
            if error.status == 409:
                self.conflicts += 1
            raise

    def list_tasks(self) -> dict[str, dict[str, Any]]:
        """Every AgentTask labelled with this plan, by name."""
        answer = self._call(
            self.custom.list_namespaced_custom_object,
            models.AgentTask.plural,
            label_selector=f"{models.LABEL_PLAN}={self.plan}",
        )
        return {item["metadata"]["name"]: item for item in answer.get("items", [])}

    def get_plan(self) -> dict[str, Any] | None:
        try:
            plan: dict[str, Any] = self._call(
                self.custom.get_namespaced_custom_object, models.AgentPlan.plural, self.plan
            )
            return plan
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def apply(self, manifest: Manifest, *, manager: str = MANAGER) -> None:
        plural = models.AgentTask.plural if manifest["kind"] == "AgentTask" else (
            models.AgentPlan.plural
        )
        body = dict(manifest)
        body["metadata"] = {**manifest["metadata"], "namespace": self.namespace}
        self._call(
            self.custom.patch_namespaced_custom_object,
            plural,
            manifest["metadata"]["name"],
            body,
            field_manager=manager,
            force=True,
            _content_type=APPLY,
        )

    def request_rerun(self, name: str, value: str) -> None:
        """Sets spec.rerun: the operator runs a task again when it differs from observedRerun."""
        self.apply(
            {
                "apiVersion": models.API_VERSION,
                "kind": "AgentTask",
                "metadata": {"name": name},
                "spec": {"rerun": value},
            },
            manager=RERUN_MANAGER,
        )

    def delete_task(self, name: str, uid: str | None) -> None:
        """Deletes a task, only the very object that was listed (uid precondition)."""
        body = {"preconditions": {"uid": uid}} if uid else None
        try:
            self._call(
                self.custom.delete_namespaced_custom_object,
                models.AgentTask.plural,
                name,
                body=body,
                propagation_policy="Background",
            )
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    def mark_pruned(self, name: str, when: str) -> None:
        """Suspends a task whose line left the file and records when (see `pruning`)."""
        self.apply(
            {
                "apiVersion": models.API_VERSION,
                "kind": "AgentTask",
                "metadata": {"name": name, "annotations": {pruning.PRUNED_AT: when}},
                "spec": {"suspend": True},
            },
            manager=pruning.PRUNE_MANAGER,
        )

    def release_prune(self, name: str) -> None:
        """Gives up the prune marks: a suspend another manager also set stays."""
        self.apply(
            {"apiVersion": models.API_VERSION, "kind": "AgentTask", "metadata": {"name": name}},
            manager=pruning.PRUNE_MANAGER,
        )

    def set_plan_conditions(self, conditions: list[dict[str, Any]]) -> None:
        """Replaces the plan's status.conditions (the operator keeps types it does not own)."""
        self._call(
            self.custom.patch_namespaced_custom_object_status,
            models.AgentPlan.plural,
            self.plan,
            {"status": {"conditions": conditions}},
            field_manager=MANAGER,
        )

    def forget_mass_prune_permission(self) -> None:
        """Removes the plan annotation that allowed one mass prune."""
        self._call(
            self.custom.patch_namespaced_custom_object,
            models.AgentPlan.plural,
            self.plan,
            {"metadata": {"annotations": {pruning.ALLOW_MASS_PRUNE: None}}},
            field_manager=MANAGER,
        )

    def plan_event(self, plan: dict[str, Any], reason: str, message: str, when: str) -> None:
        """A Warning Event on the AgentPlan (`kubectl describe agentplan` shows it)."""
        metadata = plan.get("metadata") or {}
        core = kubernetes.client.CoreV1Api(self.custom.api_client)
        core.create_namespaced_event(
            self.namespace,
            {  # type: ignore[arg-type]  # the client accepts the plain dict
                "metadata": {"generateName": f"{self.plan}.", "namespace": self.namespace},
                "involvedObject": {
                    "apiVersion": models.API_VERSION, "kind": "AgentPlan",
                    "name": self.plan, "namespace": self.namespace, "uid": metadata.get("uid"),
                },
                "reason": reason,
                "message": message[:1024],
                "type": "Warning",
                "source": {"component": MANAGER},
                "firstTimestamp": when,
                "lastTimestamp": when,
                "count": 1,
            },
        )

    def record_sync(self, when: str) -> None:
        """Sets the plan's status.lastSyncTime (merge patch: other status stays)."""
        self._call(
            self.custom.patch_namespaced_custom_object_status,
            models.AgentPlan.plural,
            self.plan,
            {"status": {"lastSyncTime": when}},
            field_manager=MANAGER,
        )

    def watch_tasks(self, on_change: Callable[[], None], stop: threading.Event) -> None:
        """Calls on_change for every change to the plan's tasks, until stop is set."""
        watcher = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
        backoff = 1.0
        while not stop.is_set():
            try:
                for _event in watcher.stream(  # type: ignore[no-untyped-call]
                    self.custom.list_namespaced_custom_object,
                    models.GROUP,
                    models.VERSION,
                    self.namespace,
                    models.AgentTask.plural,
                    label_selector=f"{models.LABEL_PLAN}={self.plan}",
                    timeout_seconds=60,
                ):
                    backoff = 1.0
                    on_change()
                    if stop.is_set():
                        break
            except Exception as error:  # the watch restarts; the periodic resync covers gaps
                log.warning("watching agenttasks failed: %s", describe(error))
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        watcher.stop()  # type: ignore[no-untyped-call]
