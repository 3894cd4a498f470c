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

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from agent_operator import clock, scheduling, store

from agent_console import documents, views

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
        self._dirty = threading.Event()  # a change not in the model yet
        self._undecided = threading.Event()  # a change the decision has not seen yet
        self._build_lock = threading.Lock()
        self._decided: _Decided | None = None
        self._view: tuple[views.Model, documents.Encoded] | None = None
        self.last_decide_seconds = 0.0
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
            self._changed(kind)

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
            self._changed(kind)

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

    def _changed(self, kind: str) -> None:
        self._changes += 1
        self._dirty.set()
        if kind in STORE_KINDS:  # pods and Events are not the decision's input
            self._undecided.set()

    # ------------------------------------------------------------------ reading

    @property
    def synced(self) -> bool:
        return self.expected_lists <= self._listed

    def _gather(
        self,
    ) -> tuple[
        scheduling.Snapshot, dict[views.Key, views.PodInfo], dict[Any, list[views.EventInfo]], bool
    ]:
        with self._lock:
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
        return snapshot, pods_by_job, dict(events), synced

    def decide(self) -> _Decided:
        """Runs the operator's decision over the cache as it is now (seconds at 10,000
        tasks; the view thread goes on serving changes meanwhile)."""
        started = time.perf_counter()
        with self._lock:
            self._undecided.clear()
            snapshot = self.store.snapshot(set(self.namespaces) if self.namespaces else None)
            snapshot.circuits = dict(self._circuits)
        now = self._now()
        decision = scheduling.decide(snapshot, self.config, now)
        decided = _Decided(decision, {entry.key: entry.task for entry in snapshot.tasks})
        with self._lock:
            self._circuits = dict(decision.circuits)
            self._decided = decided
        self.last_decide_seconds = time.perf_counter() - started
        return decided

    def _build(self, decided: _Decided | None) -> views.Model:
        """A new model of the cache with the decision `decided` (None: one made now)."""
        with self._build_lock:
            started = time.perf_counter()
            with self._lock:
                self._dirty.clear()
            snapshot, pods_by_job, events, synced = self._gather()
            self._computed += 1
            previous = self._model
            model = views.build(
                snapshot=snapshot,
                config=self.config,
                now=self._now(),
                version=self._computed,
                pods=pods_by_job,
                events=events,
                namespaces=self.namespaces,
                synced=synced,
                decision=decided.decision if decided is not None else None,
                decided=decided.tasks if decided is not None else None,
                previous=previous,
            )
            if decided is None:
                with self._lock:
                    self._circuits = dict(model.decision.circuits)
                    self._decided = _Decided(model.decision, model.tasks)
            encoded = documents.Encoded(model, self._view[1] if self._view else None)
            self._view = (model, encoded)
            self._model = model
            self.last_compute_seconds = time.perf_counter() - started
            return model

    def refresh(self) -> views.Model:
        """Recomputes the model from the cache now, the operator's decision included."""
        return self._build(None)

    def model(self) -> views.Model:
        """The latest model (computed now if there is none yet)."""
        return self._model if self._model is not None else self.refresh()

    def view(self) -> tuple[views.Model, documents.Encoded]:
        """The latest model and its encoded plan documents (computed now if none yet)."""
        if self._view is None:
            self.refresh()
        assert self._view is not None
        return self._view

    def current_view(self) -> tuple[views.Model, documents.Encoded] | None:
        """The latest model and its encoded documents, None before the first."""
        return self._view

    def listen(self, callback: Callable[[int], None]) -> None:
        """`callback(version)` after each recomputation (from the cache's thread)."""
        self._listeners.append(callback)

    def _publish(self, model: views.Model) -> None:
        for listener in list(self._listeners):
            listener(model.version)

    def run(self, stop: threading.Event) -> None:
        """Serves changes until `stop` is set: after each change (a burst makes one) a new
        model with the last complete decision, at once; and in a second thread the
        operator's decision over the latest cache, again after changes and when the
        decision asks for a pass (a backoff or a circuit breaker's cool-down ends)."""
        decider = threading.Thread(
            target=self._run_decisions, args=(stop,), name="decide", daemon=True
        )
        decider.start()
        while not stop.is_set():
            if not self._dirty.wait(1.0) or stop.wait(self.debounce_seconds):
                continue
            try:
                model = self._build(self._decided)
            except Exception:  # a bug here must not stop the dashboard
                log.exception("recomputing the dashboard's view failed")
                stop.wait(1.0)
                continue
            self._publish(model)
        decider.join(timeout=10)

    def _run_decisions(self, stop: threading.Event) -> None:
        # Below the view thread, the requests and the rest of the machine: a decision
        # may come a little later, a request should not.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # Linux: this thread
        while not stop.is_set():
            decided = self._decided
            wake = decided.decision.next_wake if decided is not None else None
            due = wake is not None and self._now() >= wake
            if not due and not self._undecided.wait(1.0):
                continue  # nothing new: look at the clock and `stop` again
            if stop.wait(self.debounce_seconds):
                return
            try:
                self.decide()
            except Exception:  # a bug here must not stop the dashboard
                log.exception("the operator's decision over the dashboard's cache failed")
                stop.wait(1.0)
                continue
            with self._lock:
                self._dirty.set()


@dataclasses.dataclass(frozen=True)
class _Decided:
    """The operator's decision, and the tasks it was made over."""

    decision: scheduling.Decision
    tasks: dict[views.Key, Any]
