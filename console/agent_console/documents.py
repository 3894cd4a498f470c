"""The plan list and every plan document, encoded once per model version, before the
version is served.

Encoding a 1,000-task plan takes longer than a request may, so the cache encodes the
documents in its own thread after each change and serves the bytes. Most of a new
version is the previous one: a task row is encoded again only when the task or the
status the decision gives it changed (or an attempt runs, whose duration grows), a
plan's summary only when one of its tasks, its AgentPlan or its breaker changed (or it
has a rate that depends on the time). The bytes are exactly `json.dumps` of the
documents `views.plans` and `views.plan` return.
"""

from __future__ import annotations

import json
from typing import Any

from agent_api import models

from agent_console import views

Key = views.Key


def _dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _inner(document: dict[str, Any]) -> bytes:
    """An object's members without the braces (b'' for an empty object)."""
    return _dumps(document)[1:-1]


def _runs(task: models.AgentTask) -> bool:
    return any(r.outcome == "Running" for r in task.status.history)


def _shown(status: models.AgentTaskStatus) -> tuple[Any, ...]:
    """What a row shows of the status the decision gives a task (beside the task's own)."""
    ready = views._ready_condition(status)
    return (ready.reason if ready else None, status.blocked_by, status.message)


class _Row:
    __slots__ = ("body", "document", "status", "task")

    def __init__(
        self, task: models.AgentTask, status: models.AgentTaskStatus, document: Any, body: bytes
    ) -> None:
        self.task, self.status, self.document, self.body = task, status, document, body


class _Summary:
    __slots__ = ("body", "circuit", "document", "members", "plan", "timed")

    def __init__(self, members: list[Key], plan: Any, circuit: Any, document: Any) -> None:
        self.members, self.plan, self.circuit, self.document = members, plan, circuit, document
        # the rate and ETA read the clock while the plan has successes and is not done
        self.timed = document["tasksPerHour"] is not None and (
            document["counts"]["succeeded"] != document["total"]
        )
        self.body = _inner(document)


class _Plan:
    """A plan document without its stamp, and what it was made from."""

    __slots__ = ("body", "decided", "decision", "members", "runs", "summary")

    def __init__(
        self, model: views.Model, members: list[Key], summary: _Summary, body: bytes, runs: bool
    ) -> None:
        self.members, self.summary, self.body, self.runs = members, summary, body, runs
        self.decision, self.decided = model.decision, model.decided


class Encoded:
    """The encoded plan documents of one model; built from the previous version's."""

    def __init__(self, model: views.Model, previous: Encoded | None = None) -> None:
        self.version = model.version
        stamp = _inner(views._stamp(model))
        old_rows = previous._rows if previous is not None else {}
        old_summaries = previous._summaries if previous is not None else {}
        old_parts = previous._parts if previous is not None else {}
        self._rows: dict[Key, _Row] = {}
        self._summaries: dict[Key, _Summary] = {}
        self._parts: dict[Key, _Plan] = {}
        self._plans: dict[Key, bytes] = {}
        for scope, members in model.scopes.items():
            summary = self._summary(model, scope, members, old_summaries.get(scope))
            part = old_parts.get(scope)
            if (
                part is not None
                and part.summary is summary
                and part.members is members
                and part.decision is model.decision
                and part.decided is model.decided
                and not part.runs
            ):  # the same tasks, statuses and summary: the same document
                for key in members:
                    self._rows[key] = old_rows[key]
            else:
                rows = [self._row(model, key, old_rows.get(key)) for key in members]
                body = b"".join(
                    (b"{", summary.body, b',"tasks":[', b",".join(r.body for r in rows), b"],")
                )
                part = _Plan(model, members, summary, body, any(_runs(r.task) for r in rows))
            self._parts[scope] = part
            self._plans[scope] = b"".join((part.body, stamp, b"}"))
        self._lists: dict[str | None, bytes] = {}
        namespaces = sorted({scope[0] for scope in model.scopes})
        for namespace in (None, *namespaces):
            items = [self._summaries[s].body for s in views._scopes_in(model, namespace)]
            self._lists[namespace] = b"".join(
                (b'{"items":[', b",".join(b"{" + i + b"}" for i in items), b"],", stamp, b"}")
            )
        self._empty_list = b'{"items":[],' + stamp + b"}"

    def _row(self, model: views.Model, key: Key, old: _Row | None) -> _Row:
        task, status = model.tasks[key], model.status(key)
        if (
            old is not None
            and old.task is task
            and (old.status is status or _shown(old.status) == _shown(status))
            and not _runs(task)
        ):
            self._rows[key] = old
            return old
        document = views._row(model, key)
        if old is not None and old.document == document:
            row = _Row(task, status, document, old.body)
        else:
            row = _Row(task, status, document, _dumps(document))
        self._rows[key] = row
        return row

    def _summary(
        self, model: views.Model, scope: Key, members: list[Key], old: _Summary | None
    ) -> _Summary:
        entry = model.snapshot.plans.get(views.operator_scope(scope))
        plan = entry.plan if entry is not None else None
        circuit = model.decision.circuits.get(views.operator_scope(scope))
        if (
            old is not None
            and not old.timed
            and old.members is members
            and old.plan is plan
            and old.circuit == circuit
            and (model.touched is not None and scope not in model.touched)
        ):
            summary = old
        else:
            summary = _Summary(members, plan, circuit, views._summary(model, scope))
        self._summaries[scope] = summary
        return summary

    def plan(self, namespace: str, name: str) -> bytes | None:
        """`views.plan` encoded (None: no such plan)."""
        return self._plans.get((namespace, name))

    def plans(self, namespace: str | None) -> bytes:
        """`views.plans` encoded."""
        return self._lists.get(namespace, self._empty_list)
