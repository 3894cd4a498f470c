"""The dispatcher carrying out decisions, against a fake of our own API layer (kube.Kube).

What is faked: kube.Kube, which records writes and answers like the API server would
(including AlreadyExists). What is real: the cache, the scheduling pass, the dispatcher.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

import pytest
from agent_api import models
from agent_operator import __main__ as cli
from agent_operator import dispatcher, kube, scheduling, store
from operator_world import T0, plan, task

_versions = itertools.count(100)


class FakeKube:
    """Stores Jobs and task/plan statuses; `refuse_creates` makes creations fail."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.refuse_creates: kube.ApiError | None = None

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(next(_versions))
        return obj

    async def create_job(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if self.refuse_creates is not None:
            raise self.refuse_creates
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        if key in self.jobs:
            raise kube.ApiError(409, "AlreadyExists", f"jobs {key[1]} already exists")
        job = self._stamp(copy.deepcopy(manifest))
        job["metadata"]["uid"] = f"job-{key[1]}"
        job["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
        self.jobs[key] = job
        self.created.append(key[1])
        return copy.deepcopy(job)

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        job = self.jobs.get((namespace, name))
        return copy.deepcopy(job) if job else None

    async def delete_job(self, namespace: str, name: str) -> None:
        self.jobs.pop((namespace, name), None)
        self.deleted.append(name)

    async def job_pods(self, namespace: str, job: str) -> list[dict[str, Any]]:
        return []

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        obj = self.objects[(kind, namespace, name)]
        merged = {**(obj.get("status") or {}), **status}
        obj["status"] = {k: v for k, v in merged.items() if v is not None}
        return copy.deepcopy(self._stamp(obj))

    async def patch_owner_references(
        self, kind: str, namespace: str, name: str, refs: list[dict[str, Any]], uid: str
    ) -> dict[str, Any]:
        obj = self.objects[(kind, namespace, name)]
        obj["metadata"]["ownerReferences"] = refs
        return copy.deepcopy(self._stamp(obj))

    async def secret_problem(self, namespace: str, name: str, key: str) -> str | None:
        return None

    async def create_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def get_peering(self, name: str, namespace: str | None) -> dict[str, Any] | None:
        return None


def _setup(*objects: dict[str, Any]) -> tuple[FakeKube, store.Store, dispatcher.Dispatcher]:
    fake = FakeKube()
    cache = store.Store()
    for obj in objects:
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(next(_versions))
        fake.objects[(obj["kind"], "ns", obj["metadata"]["name"])] = obj
        cache.apply(obj["kind"], None, obj)
    loop = dispatcher.Dispatcher(
        client=fake,  # type: ignore[arg-type]
        store=cache,
        config=scheduling.Config(identity="unit"),
        namespaces=["ns"],
        peering_name=None,
        priority=1,
        now=lambda: T0,
    )
    return fake, cache, loop


def test_a_pass_creates_jobs_writes_statuses_and_then_rests() -> None:
    fake, _, loop = _setup(plan("p"), task("a", plan="p"), task("b", plan="p", depends_on=["A"]))

    async def scenario() -> None:
        await loop.run_pass()
        writes_after_first = dict(fake.objects)
        await loop.run_pass()  # nothing changed: nothing is written again
        assert fake.objects == writes_after_first

    asyncio.run(scenario())
    assert fake.created == ["a-1"]
    assert fake.objects[("AgentTask", "ns", "a")]["status"]["phase"] == "Running"
    assert fake.objects[("AgentTask", "ns", "b")]["status"]["phase"] == "Blocked"
    assert fake.objects[("AgentPlan", "ns", "p")]["status"]["progress"] == "0/2"
    refs = fake.objects[("AgentTask", "ns", "a")]["metadata"]["ownerReferences"]
    assert refs[0]["kind"] == "AgentPlan"


def test_an_existing_job_of_the_same_task_is_adopted_not_duplicated() -> None:
    fake, _, loop = _setup(task("a"))
    uid = fake.objects[("AgentTask", "ns", "a")]["metadata"]["uid"]
    # Another replica (or this one before a crash) created the Job; our cache has not seen it.
    fake.jobs[("ns", "a-1")] = {
        "metadata": {
            "name": "a-1",
            "namespace": "ns",
            "uid": "j",
            "resourceVersion": "1",
            "labels": {models.LABEL_TASK: "a", models.LABEL_ATTEMPT: "1"},
            "ownerReferences": [{"kind": "AgentTask", "uid": uid, "controller": True}],
        }
    }
    asyncio.run(loop.run_pass())
    assert fake.created == []
    status = fake.objects[("AgentTask", "ns", "a")]["status"]
    assert status["currentJob"] == "a-1" and status["attempts"] == 1


def test_a_refused_job_leaves_the_task_queued_with_the_api_message() -> None:
    fake, _, loop = _setup(task("a"))
    fake.refuse_creates = kube.ApiError(403, "Forbidden", 'exceeded quota: "agents"')
    asyncio.run(loop.run_pass())
    status = fake.objects[("AgentTask", "ns", "a")]["status"]
    assert status["phase"] == "Queued"
    assert 'exceeded quota: "agents"' in status["message"]
    fake.refuse_creates = None
    asyncio.run(loop.run_pass())
    assert fake.created == ["a-1"]


def test_invalid_settings_exit_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--namespace", "a", "--all-namespaces"]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main(["--namespace", "a", "--max-concurrent", "0"]) == 2
    assert "max_concurrent" in capsys.readouterr().err
