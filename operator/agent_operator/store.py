"""The operator's view of the cluster: a cache fed by kopf's watch events and by lists.

Watch events and full lists can arrive in any order; a newer resourceVersion always wins,
and a deleted object is remembered for a while so a late list cannot bring it back. A pass
reads the cache, never the API, so its cost does not grow with API round trips.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
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


def _key(meta: dict[str, Any]) -> Key:
    # The namespace interned, as in the parsed model: one string for every object in it.
    return (sys.intern(meta.get("namespace") or ""), meta.get("name") or "")


# The kinds whose parsed form is all a decision reads: no raw copy of them is kept.
_PARSED_ONLY = ("AgentTask", "Job")
_MAX_FIELD_SETS = 4096


@dataclasses.dataclass(slots=True)
class _Item:
    parsed: Any
    version: int
    uid: str
    raw: dict[str, Any] | None  # None for the kinds in _PARSED_ONLY


class _Compactor:
    """Makes parsed models cheaper to keep, without changing what they hold.

    At 10,000 tasks the models are most of the operator's memory, and most of that is
    repeated: the same namespace, plan, phase, reasons and timestamps in every task, and
    in every model pydantic's set of the fields that were given (a set of five names costs
    728 bytes). Strings are interned, models that were given the same fields share one
    such set, and a part equal to its type's defaults (an unset budget, no spend yet) is
    one shared instance. Sharing is safe because a cached model is never changed in place
    (a pass works on copies, and pydantic's copies take a field set of their own); the
    field set is read only by `exclude_unset` dumps, which the operator does not make.
    """

    def __init__(self) -> None:
        self._field_sets: dict[frozenset[str], set[str]] = {}
        self._defaults: dict[type[pydantic.BaseModel], pydantic.BaseModel | None] = {}

    def compact(self, value: Any) -> Any:
        """`value` with its strings interned and field sets shared (models and lists are
        changed in place, dicts rebuilt)."""
        if isinstance(value, str):
            return sys.intern(value)
        if isinstance(value, pydantic.BaseModel):
            fields = value.__dict__
            for name, item in fields.items():
                fields[name] = self.compact(item)
            extra = value.__pydantic_extra__
            if extra:
                for name, item in extra.items():
                    extra[name] = self.compact(item)
            object.__setattr__(
                value, "__pydantic_fields_set__", self._field_set(value.__pydantic_fields_set__)
            )
            default = self._default(type(value))
            return default if default is not None and value == default else value
        if isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = self.compact(item)
            return value
        if isinstance(value, dict):
            return {
                sys.intern(k) if isinstance(k, str) else k: self.compact(v)
                for k, v in value.items()
            }
        return value

    def _default(self, model: type[pydantic.BaseModel]) -> pydantic.BaseModel | None:
        """The shared instance of `model` with every field at its default; None when a
        field has no default."""
        if model not in self._defaults:
            try:
                default = model()
            except pydantic.ValidationError:
                self._defaults[model] = None
            else:
                self._defaults[model] = None  # while it is compacted itself
                self._defaults[model] = self.compact(default)
        return self._defaults[model]

    def _field_set(self, fields: set[str]) -> set[str]:
        key = frozenset(fields)
        shared = self._field_sets.get(key)
        if shared is None:
            if len(self._field_sets) >= _MAX_FIELD_SETS:  # never in practice: bounded anyway
                return fields
            shared = self._field_sets[key] = fields
        return shared


    def share_unchanged(self, new: pydantic.BaseModel, old: pydantic.BaseModel) -> None:
        """Lets `new` reuse the parts of `old` (the version it replaces) that are equal, so
        that while a pass still holds the old version (a status write's answer replaces
        it), the spec and the unchanged conditions and records are not held twice."""
        fields = new.__dict__
        for name, value in fields.items():
            before: Any = old.__dict__.get(name)
            if before is value or type(before) is not type(value):
                continue
            if value == before:
                fields[name] = before
            elif isinstance(value, pydantic.BaseModel):
                if value is not self._defaults.get(type(value)):  # shared: left as it is
                    self.share_unchanged(value, before)
            elif isinstance(value, list):
                for index, item in enumerate(value[: len(before)]):
                    if item is not before[index] and item == before[index]:
                        value[index] = before[index]


class Store:
    """Objects of the four kinds the decisions need, keyed by (namespace, name)."""

    def __init__(self) -> None:
        self._items: dict[str, dict[Key, _Item]] = {kind: {} for kind in KINDS}
        self._tombstones: dict[str, float] = {}  # uid -> when it was deleted
        self._compactor = _Compactor()

    def apply(self, kind: str, event_type: str | None, raw: dict[str, Any]) -> bool:
        """Applies one watch event; True when the cache changed."""
        meta = raw.get("metadata") or {}
        key = _key(meta)
        uid = meta.get("uid") or ""
        items = self._items[kind]
        if event_type == "DELETED":
            self._tombstones[uid] = time.monotonic()
            current = items.get(key)
            if current is not None and current.uid == uid:
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
        uid = (raw.get("metadata") or {}).get("uid") or ""
        current = items.get(key)
        same_object = current is not None and current.uid == uid
        if current is not None and same_object and version and current.version >= version:
            return False
        parsed = self._parse(kind, key, raw)
        if parsed is None:
            items.pop(key, None)
            return True
        if kind == "AgentTask":
            parsed = self._compactor.compact(parsed)
            if current is not None and same_object and type(current.parsed) is type(parsed):
                self._compactor.share_unchanged(parsed, current.parsed)
        items[key] = _Item(
            parsed=parsed, version=version, uid=uid, raw=None if kind in _PARSED_ONLY else raw
        )
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
        listing = self.listing(kind)
        for raw in items:
            listing.add(raw)
        listing.finish(list_version)

    def listing(self, kind: str) -> Listing:
        """A full list of `kind` merged object by object as its pages arrive (see
        `replace`), so that a list of 10,000 objects is never held whole."""
        return Listing(self, kind)

    def _merge_listed(self, kind: str, raw: dict[str, Any]) -> Key:
        meta = raw.get("metadata") or {}
        key = _key(meta)
        if (meta.get("uid") or "") not in self._tombstones:
            self._put(kind, key, raw)
        return key

    def _drop_unlisted(self, kind: str, seen: set[Key], list_version: str) -> None:
        try:
            at = int(list_version)
        except ValueError:
            at = 0
        items = self._items[kind]
        for key in [k for k in items if k not in seen]:
            if at == 0 or items[key].version <= at:
                del items[key]
        cutoff = time.monotonic() - _TOMBSTONE_SECONDS
        self._tombstones = {u: t for u, t in self._tombstones.items() if t > cutoff}

    def raw(self, kind: str, key: Key) -> dict[str, Any] | None:
        """The object as listed or watched; of the kinds kept parsed only, its identity."""
        item = self._items[kind].get(key)
        if item is None:
            return None
        if item.raw is not None:
            return item.raw
        return {"metadata": {"namespace": key[0], "name": key[1], "uid": item.uid}}

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
            key: snapshots.PlanEntry(plan=item.parsed, uid=item.uid, raw=item.raw or {})
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


_LISTED: dict[str, Any] = {}


class Listing:
    """One full list of a kind being merged into the store (`Store.listing`)."""

    def __init__(self, store: Store, kind: str) -> None:
        self._store = store
        self._kind = kind
        self._seen: set[Key] = set()

    def add(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Merges one listed object. Returns an empty placeholder, so that `add` can be a
        list's per-object transform and the list keeps nothing of the object."""
        self._seen.add(self._store._merge_listed(self._kind, raw))
        return _LISTED

    def finish(self, list_version: str) -> None:
        """The list is complete: objects it did not hold that are not newer are gone."""
        self._store._drop_unlisted(self._kind, self._seen, list_version)
