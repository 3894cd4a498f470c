"""The operator's view of the cluster: a cache fed by kopf's watch events and by lists.

Watch events and full lists can arrive in any order; a newer resourceVersion always wins,
and a deleted object is remembered for a while so a late list cannot bring it back. A pass
reads the cache, never the API, so its cost does not grow with API round trips.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import pydantic
from agent_api import models

from agent_operator import jobs, routing
from agent_operator.scheduling import snapshot as snapshots

logger = logging.getLogger(__name__)

KINDS = ("AgentTask", "AgentPlan", "AgentProfile", "Job")
_TOMBSTONE_SECONDS = 600.0

Key = tuple[str, str]


def _version(raw: dict[str, Any]) -> int:
    text = (raw.get("metadata") or {}).get("resourceVersion") or "0"
    try:
        return int(text)
    except ValueError:
        return 0


_HEAVY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def slim(raw: dict[str, Any]) -> dict[str, Any]:
    """The object without what no decision reads (managedFields, kubectl's last-applied
    copy): at 10,000 tasks they would be most of the operator's memory."""
    meta = raw.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    heavy = [a for a in _HEAVY_ANNOTATIONS if a in annotations]
    if "managedFields" not in meta and not heavy:
        return raw
    slim_meta = {k: v for k, v in meta.items() if k != "managedFields"}
    if heavy:
        slim_meta["annotations"] = {k: v for k, v in annotations.items() if k not in heavy}
    return {**raw, "metadata": slim_meta}


@dataclasses.dataclass
class _Item:
    raw: dict[str, Any]
    parsed: Any
    version: int


class Store:
    """Objects of the four kinds the decisions need, keyed by (namespace, name)."""

    def __init__(self) -> None:
        self._items: dict[str, dict[Key, _Item]] = {kind: {} for kind in KINDS}
        self._tombstones: dict[str, float] = {}  # uid -> when it was deleted

    def apply(self, kind: str, event_type: str | None, raw: dict[str, Any]) -> bool:
        """Applies one watch event; True when the cache changed."""
        meta = raw.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        uid = meta.get("uid") or ""
        items = self._items[kind]
        if event_type == "DELETED":
            self._tombstones[uid] = time.monotonic()
            current = items.get(key)
            if current is not None and (current.raw.get("metadata") or {}).get("uid") == uid:
                del items[key]
                return True
            return False
        if uid in self._tombstones:
            return False
        return self._put(kind, key, raw)

    def _put(self, kind: str, key: Key, raw: dict[str, Any]) -> bool:
        raw = slim(raw)
        items = self._items[kind]
        version = _version(raw)
        current = items.get(key)
        same_object = current is not None and (
            (current.raw.get("metadata") or {}).get("uid") == (raw.get("metadata") or {}).get("uid")
        )
        if current is not None and same_object and version and current.version >= version:
            return False
        parsed = self._parse(kind, key, raw)
        if parsed is None:
            items.pop(key, None)
            return True
        if kind in ("Job", "AgentTask"):  # the parsed form is all a decision reads
            meta = raw.get("metadata") or {}
            raw = {"metadata": {k: meta[k] for k in ("name", "namespace", "uid") if k in meta}}
        items[key] = _Item(raw=raw, parsed=parsed, version=version)
        return True

    def _parse(self, kind: str, key: Key, raw: dict[str, Any]) -> Any:
        try:
            if kind == "AgentTask":
                return models.AgentTask.model_validate(raw)
            if kind == "AgentPlan":
                return models.AgentPlan.model_validate(raw)
            if kind == "AgentProfile":
                return models.AgentProfile.model_validate(raw)
            return jobs.view(raw)
        except pydantic.ValidationError as error:
            logger.warning("ignoring %s %s/%s, which does not parse: %s", kind, *key, error)
            return None

    def replace(self, kind: str, items: list[dict[str, Any]], list_version: str) -> None:
        """Merges a full list: objects absent from it that are not newer than it are gone."""
        try:
            at = int(list_version)
        except ValueError:
            at = 0
        seen: set[Key] = set()
        for raw in items:
            meta = raw.get("metadata") or {}
            key = (meta.get("namespace") or "", meta.get("name") or "")
            seen.add(key)
            if (meta.get("uid") or "") not in self._tombstones:
                self._put(kind, key, raw)
        for key in list(self._items[kind]):
            if key not in seen and (at == 0 or self._items[kind][key].version <= at):
                del self._items[kind][key]
        cutoff = time.monotonic() - _TOMBSTONE_SECONDS
        self._tombstones = {u: t for u, t in self._tombstones.items() if t > cutoff}

    def raw(self, kind: str, key: Key) -> dict[str, Any] | None:
        item = self._items[kind].get(key)
        return item.raw if item is not None else None

    def count(self, kind: str) -> int:
        return len(self._items[kind])

    def snapshot(self, namespaces: set[str] | None = None) -> snapshots.Snapshot:
        """The cache as the scheduler's input; `namespaces` limits it (None: all)."""

        def wanted(key: Key) -> bool:
            return namespaces is None or key[0] in namespaces

        tasks = [
            snapshots.TaskEntry(task=item.parsed)
            for key, item in self._items["AgentTask"].items()
            if wanted(key)
        ]
        plans: dict[snapshots.PlanScope, snapshots.PlanEntry] = {
            key: snapshots.PlanEntry(
                plan=item.parsed, uid=item.raw["metadata"].get("uid", ""), raw=item.raw
            )
            for key, item in self._items["AgentPlan"].items()
            if wanted(key)
        }
        by_namespace: dict[str, list[models.AgentProfile]] = {}
        for key, item in self._items["AgentProfile"].items():
            if wanted(key):
                by_namespace.setdefault(key[0], []).append(item.parsed)
        profiles = {ns: routing.ordered(items) for ns, items in by_namespace.items()}
        job_index: dict[tuple[str, str], list[jobs.JobView]] = {}
        for key, item in self._items["Job"].items():
            if wanted(key):
                view: jobs.JobView = item.parsed
                job_index.setdefault((view.namespace, view.task), []).append(view)
        return snapshots.Snapshot(tasks=tasks, plans=plans, profiles=profiles, jobs=job_index)
