"""API objects for the console's tests, and a cache fed with them."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from agent_console import cache
from agent_operator import scheduling

GROUP = "orchestration.coditect.ai/v1alpha1"
T0 = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)
_versions = itertools.count(1)


def stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, namespace: str = "team", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "resourceVersion": str(next(_versions)),
        "creationTimestamp": stamp(T0),
        **extra,
    }


def task(
    name: str,
    task_id: str,
    *,
    plan: str | None = "p",
    depends_on: tuple[str, ...] = (),
    priority: str = "P2",
    namespace: str = "team",
    created: datetime.datetime = T0,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"taskId": task_id, "title": f"task {task_id}", "priority": priority,
                            "dependsOn": list(depends_on), **spec}
    if plan:
        body["plan"] = plan
    return {
        "apiVersion": GROUP,
        "kind": "AgentTask",
        "metadata": meta(name, namespace, creationTimestamp=stamp(created)),
        "spec": body,
        "status": status or {},
    }


def plan(name: str = "p", namespace: str = "team", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "AgentPlan", "metadata": meta(name, namespace),
            "spec": spec}


def succeeded(start: datetime.datetime, seconds: float, *, cost: float = 0.5,
              tokens: tuple[int, int] = (100, 10), job: str = "x-1") -> dict[str, Any]:
    end = start + datetime.timedelta(seconds=seconds)
    return {
        "phase": "Succeeded",
        "attempts": 1,
        "agentProfile": "general-purpose",
        "startTime": stamp(start),
        "completionTime": stamp(end),
        "history": [{"number": 1, "job": job, "startTime": stamp(start),
                     "completionTime": stamp(end), "outcome": "Succeeded"}],
        "result": {"summary": "done", "inputTokens": tokens[0], "outputTokens": tokens[1],
                   "costUSD": cost, "branch": "agent/x", "commit": "abc123"},
        "spend": {"costUSD": cost, "tokens": sum(tokens), "day": stamp(end)[:10],
                  "dayCostUSD": cost},
    }


def running(start: datetime.datetime, job: str, profile: str = "general-purpose") -> dict[str, Any]:
    return {
        "phase": "Running",
        "attempts": 1,
        "agentProfile": profile,
        "currentJob": job,
        "startTime": stamp(start),
        "history": [{"number": 1, "job": job, "startTime": stamp(start), "outcome": "Running"}],
    }


def job(name: str, task_name: str, attempt: int = 1, namespace: str = "team") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(name, namespace, labels={
            "orchestration.coditect.ai/task": task_name,
            "orchestration.coditect.ai/attempt": str(attempt),
            "orchestration.coditect.ai/profile": "general-purpose",
        }, ownerReferences=[{"kind": "AgentTask", "uid": f"uid-{namespace}-{task_name}",
                             "controller": True, "name": task_name}]),
        "status": {"active": 1},
    }


def pod(name: str, job_name: str, task_name: str, attempt: int = 1,
        namespace: str = "team") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, namespace, labels={
            "orchestration.coditect.ai/task": task_name,
            "orchestration.coditect.ai/attempt": str(attempt),
            "batch.kubernetes.io/job-name": job_name,
        }),
        "spec": {"nodeName": "kwok-node-0"},
        "status": {"phase": "Running"},
    }


def event(name: str, task_name: str, reason: str, message: str,
          namespace: str = "team") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta(name, namespace),
        "involvedObject": {"kind": "AgentTask", "name": task_name, "namespace": namespace,
                           "apiVersion": GROUP},
        "type": "Normal",
        "reason": reason,
        "message": message,
        "count": 1,
        "firstTimestamp": stamp(T0),
        "lastTimestamp": stamp(T0),
    }


def fed(*objects: dict[str, Any], now: datetime.datetime = T0, max_concurrent: int = 5,
        namespaces: frozenset[str] | None = frozenset({"team"})) -> cache.Cache:
    """A cache that listed these objects (each kind in its namespace)."""
    feed = cache.Cache(config=scheduling.Config(max_concurrent=max_concurrent),
                       namespaces=namespaces, now=lambda: now)
    by_kind: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault((obj["kind"], obj["metadata"]["namespace"]), []).append(obj)
    for kind in ("AgentTask", "AgentPlan", "AgentProfile", "Job", "Pod", "Event"):
        for ns in sorted(namespaces or {"team"}):
            feed.on_list(kind, ns, by_kind.get((kind, ns), []), "1")
    return feed
