"""The dashboard's cache: fed by watches, never by a LIST per request.

Tasks, plans, profiles and Jobs go into the operator's own cache type (`store.Store`),
so the snapshot the operator's decision is computed over is built exactly as the
operator builds it; attempt pods and Events are kept beside it. After each change (a
burst of changes makes one) a background thread recomputes the `views.Model` and tells
the listeners (the live page's streams) its new version.

What a read-only dashboard cannot know: whether the API key Secrets exist (it may not
read Secrets), so `snapshot.secrets` stays None and the Secret check is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from agent_operator import clock, scheduling, store

from agent_console import views

log = logging.getLogger(__name__)
STORE_KINDS = ("AgentTask", "AgentPlan", "AgentProfile", "Job")
_EVENTS_PER_OBJECT = 50


class Cache:
    """Everything the dashboard serves, kept current by watch events."""

    def __init__(
        self,
        *,
        config: scheduling.Config,
        namespaces: frozenset[str] | None,
        now: clock.Clock = clock.system_clock,
        debounce_seconds: float = 0.05,
    ) -> None:
        self.config = config
        self.namespaces = namespaces
        self._now = now
        self.debounce_seconds = debounce_seconds
        self.store = store.Store()
        self._names: dict[str, dict[str, set[str]]] = {k: defaultdict(set) for k in STORE_KINDS}
        self._pods: dict[tuple[str, str], views.PodInfo] = {}  # (ns, pod) -> info
        self._events: dict[tuple[str, str], views.EventInfo] = {}  # (ns, event) -> info
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._changes = 0
        self._computed = 0  # the model's version: one more per recomputation
        self._listed: set[tuple[str, str | None]] = set()
        self.expected_lists: set[tuple[str, str | None]] = set()
        self._model: views.Model | None = None
        self._circuits: dict[Any, Any] = {}  # breakers of tasks without a plan, kept
        self._listeners: list[Callable[[int], None]] = []
        self.last_compute_seconds = 0.0

    # ------------------------------------------------------------------ feeding

    def on_list(
        self, kind: str, namespace: str | None, items: list[dict[str, Any]], _version: str
    ) -> None:
        """A full list of `kind` in `namespace` (None: all): what is absent is gone."""
        with self._lock:
            if kind in STORE_KINDS:
                seen: dict[str, set[str]] = defaultdict(set)
                for raw in items:
                    meta = raw.get("metadata") or {}
                    ns, name = meta.get("namespace") or "", meta.get("name") or ""
                    seen[ns].add(name)
                    if self.store.apply(kind, "ADDED", raw):
                        self._names[kind][ns].add(name)
                for ns, names in list(self._names[kind].items()):
                    if namespace is not None and ns != namespace:
                        continue
                    for name in names - seen.get(ns, set()):
                        self._delete_stored(kind, (ns, name))
            elif kind == "Pod":
                self._pods = {
                    k: v
                    for k, v in self._pods.items()
                    if namespace is not None and k[0] != namespace
                }
                for raw in items:
                    self._put_pod("ADDED", raw)
            elif kind == "Event":
                self._events = {
                    k: v
                    for k, v in self._events.items()
                    if namespace is not None and k[0] != namespace
                }
                for raw in items:
                    self._put_event("ADDED", raw)
            self._listed.add((kind, namespace))
            self._changed()

    def on_event(self, kind: str, event_type: str, raw: dict[str, Any]) -> None:
        """One watch event."""
        with self._lock:
            if kind in STORE_KINDS:
                meta = raw.get("metadata") or {}
                key = (meta.get("namespace") or "", meta.get("name") or "")
                if not self.store.apply(kind, event_type, raw):
                    return
                if event_type == "DELETED":
                    self._names[kind][key[0]].discard(key[1])
                else:
                    self._names[kind][key[0]].add(key[1])
            elif kind == "Pod":
                self._put_pod(event_type, raw)
            elif kind == "Event":
                self._put_event(event_type, raw)
            self._changed()

    def _delete_stored(self, kind: str, key: tuple[str, str]) -> None:
        raw = self.store.raw(kind, key)
        if raw is not None:
            self.store.apply(kind, "DELETED", raw)
        self._names[kind][key[0]].discard(key[1])

    def _put_pod(self, event_type: str, raw: dict[str, Any]) -> None:
        meta = raw.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        info = views.pod_info(raw)
        if event_type == "DELETED" or info is None:
            self._pods.pop(key, None)
        else:
            self._pods[key] = info

    def _put_event(self, event_type: str, raw: dict[str, Any]) -> None:
        meta = raw.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        info = views.event_info(raw)
        if event_type == "DELETED" or info is None:
            self._events.pop(key, None)
        else:
            self._events[key] = info

    def _changed(self) -> None:
        self._changes += 1
        self._dirty.set()

    # ------------------------------------------------------------------ reading

    @property
    def synced(self) -> bool:
        return self.expected_lists <= self._listed

    def refresh(self) -> views.Model:
        """Recomputes the model from the cache now."""
        started = time.perf_counter()
        with self._lock:
            self._dirty.clear()
            self._computed += 1
            version = self._computed
            snapshot = self.store.snapshot(set(self.namespaces) if self.namespaces else None)
            snapshot.circuits = dict(self._circuits)
            pods_by_job = {
                (p.namespace, p.job): p for p in self._pods.values() if p.job is not None
            }
            events: dict[tuple[str, str, str], list[views.EventInfo]] = defaultdict(list)
            for event in self._events.values():
                events[(event.namespace, event.kind, event.name)].append(event)
            synced = self.synced
        for found in events.values():
            found.sort(key=lambda e: e.last_time or "")
            del found[:-_EVENTS_PER_OBJECT]
        model = views.build(
            snapshot=snapshot,
            config=self.config,
            now=self._now(),
            version=version,
            pods=pods_by_job,
            events=dict(events),
            namespaces=self.namespaces,
            synced=synced,
        )
        self._circuits = dict(model.decision.circuits)
        self._model = model
        self.last_compute_seconds = time.perf_counter() - started
        return model

    def model(self) -> views.Model:
        """The latest model (computed now if there is none yet)."""
        return self._model if self._model is not None else self.refresh()

    def listen(self, callback: Callable[[int], None]) -> None:
        """`callback(version)` after each recomputation (from the cache's thread)."""
        self._listeners.append(callback)

    def run(self, stop: threading.Event) -> None:
        """Recomputes after changes (a burst makes one) and when the decision asks for a
        pass (a backoff or a circuit breaker's cool-down ends), until `stop` is set."""
        while not stop.is_set():
            model = self._model
            wait = 30.0
            if model is not None and model.decision.next_wake is not None:
                due = (model.decision.next_wake - self._now()).total_seconds()
                wait = min(max(due, 0.05), 30.0)
            if not self._dirty.wait(wait) and stop.is_set():
                return
            if stop.wait(self.debounce_seconds):
                return
            try:
                model = self.refresh()
            except Exception:  # a bug here must not stop the dashboard
                log.exception("recomputing the dashboard's view failed")
                stop.wait(1.0)
                continue
            for listener in list(self._listeners):
                listener(model.version)
