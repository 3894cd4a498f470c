"""The dispatcher carrying out decisions, against a fake of our own API boundary.

What is faked: agent_operator.api.ClusterApi (fake_cluster.FakeCluster), which records
writes and answers like the API server would (including AlreadyExists). What is real: the
cache, the gatherer, the scheduling pass, the actuator, the leadership gate, the dispatcher.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from agent_api import models
from agent_operator import __main__ as cli
from agent_operator import conditions, dispatcher, kube, leadership, scheduling, store
from fake_cluster import FakeCluster
from operator_world import T0, plan, task


def _setup(
    *objects: dict[str, Any], elector: leadership.Elector | None = None
) -> tuple[FakeCluster, store.Store, dispatcher.Dispatcher]:
    fake = FakeCluster()
    cache = store.Store()
    fake.watchers.append(lambda kind, event, raw: cache.apply(kind, event, raw))
    for obj in objects:
        fake.put(copy.deepcopy(obj))
    loop = dispatcher.Dispatcher(
        client=fake,
        store=cache,
        config=scheduling.Config(identity="unit"),
        namespaces=["ns"],
        elector=elector,
        now=lambda: T0,
    )
    return fake, cache, loop


def _task_status(fake: FakeCluster, name: str) -> dict[str, Any]:
    return dict(fake.objects["AgentTask"][("ns", name)].get("status") or {})


def test_a_pass_creates_jobs_writes_statuses_and_then_rests() -> None:
    fake, _, loop = _setup(plan("p"), task("a", plan="p"), task("b", plan="p", depends_on=["A"]))

    async def scenario() -> None:
        await loop.run_pass()
        writes_after_first = fake.writes
        assert writes_after_first > 0
        await loop.run_pass()  # nothing changed: nothing is written again
        assert fake.writes == writes_after_first

    asyncio.run(scenario())
    assert fake.created == ["a-1"]
    assert _task_status(fake, "a")["phase"] == "Running"
    assert _task_status(fake, "b")["phase"] == "Blocked"
    assert fake.objects["AgentPlan"][("ns", "p")]["status"]["progress"] == "0/2"
    refs = fake.objects["AgentTask"][("ns", "a")]["metadata"]["ownerReferences"]
    assert refs[0]["kind"] == "AgentPlan"


def test_an_existing_job_of_the_same_task_is_adopted_not_duplicated() -> None:
    fake, _, loop = _setup(task("a"))
    uid = fake.objects["AgentTask"][("ns", "a")]["metadata"]["uid"]
    # Another replica (or this one before a crash) created the Job; our cache has not seen it.
    fake.objects["Job"][("ns", "a-1")] = {
        "kind": "Job",
        "metadata": {
            "name": "a-1",
            "namespace": "ns",
            "uid": "j",
            "resourceVersion": "1",
            "labels": {models.LABEL_TASK: "a", models.LABEL_ATTEMPT: "1"},
            "ownerReferences": [{"kind": "AgentTask", "uid": uid, "controller": True}],
        },
    }
    asyncio.run(loop.run_pass())
    assert fake.created == []
    status = _task_status(fake, "a")
    assert status["currentJob"] == "a-1" and status["attempts"] == 1


def test_a_refused_job_leaves_the_task_queued_with_the_api_message() -> None:
    fake, _, loop = _setup(task("a"))
    fake.refuse_creates = kube.ApiError(403, "Forbidden", 'exceeded quota: "agents"')
    asyncio.run(loop.run_pass())
    status = _task_status(fake, "a")
    assert status["phase"] == "Queued"
    assert 'exceeded quota: "agents"' in status["message"]
    fake.refuse_creates = None
    asyncio.run(loop.run_pass())
    assert fake.created == ["a-1"]


def test_a_refused_job_asks_for_another_pass_within_seconds() -> None:
    fake, _, loop = _setup(task("a"))
    fake.refuse_creates = kube.ApiError(403, "Forbidden", "exceeded quota")
    asyncio.run(loop.run_pass())
    assert loop.next_wake == T0 + scheduling.decisions.REFUSED_CREATE_RETRY


def test_a_refused_job_keeps_the_generation_the_pass_read() -> None:
    edited = task("a")
    edited["metadata"]["generation"] = 7
    fake, _, loop = _setup(edited)
    fake.refuse_creates = kube.ApiError(403, "Forbidden", "exceeded quota")
    asyncio.run(loop.run_pass())
    status = models.AgentTaskStatus.model_validate(_task_status(fake, "a"))
    ready = conditions.find(status.conditions, conditions.READY)
    assert ready is not None and ready.reason == "JobCreateFailed"
    assert ready.observed_generation == 7


class _Elector:
    """An election whose answers the test sets (its boundary: agent_kube.election)."""

    def __init__(self) -> None:
        self.holds = True
        self.released = False

    def try_hold(self) -> bool:
        return self.holds

    def is_leader(self) -> bool:
        return self.holds

    def release(self) -> None:
        self.released = True


def test_a_replica_that_loses_the_lease_mid_pass_writes_nothing_more() -> None:
    elector = _Elector()
    fake, cache, loop = _setup(task("a"), task("b"), elector=elector)

    async def scenario() -> None:
        loop.gate.observe(True)
        await asyncio.sleep(0)
        snapshot = cache.snapshot()
        await loop.gatherer.gather(snapshot)
        decision = scheduling.decide(snapshot, scheduling.Config(identity="unit"), T0)
        assert len(decision.dispatches) == 2
        elector.holds = False  # the Lease expired while the pass was deciding
        await loop.actuator.apply(snapshot, decision, T0, still_leading=loop.gate.leading)

    asyncio.run(scenario())
    assert fake.writes == 0


def test_the_gate_waits_out_the_grace_and_follows_the_election() -> None:
    moments = [100.0]
    elector = _Elector()
    woken: list[int] = []
    gate = leadership.LeadershipGate(
        elector, grace_seconds=2.0, on_change=lambda: woken.append(1), monotonic=lambda: moments[0]
    )

    async def scenario() -> None:
        assert not gate.leading()
        gate.observe(True)
        assert not gate.leading() and gate.term == 1  # within the grace
        moments[0] += 2.5
        assert gate.leading()
        gate.observe(False)
        assert not gate.leading()

    asyncio.run(scenario())
    assert len(woken) == 2  # on gaining and on losing (the grace wake-up was cancelled)
    assert leadership.LeadershipGate(None).leading()  # standalone


def test_a_lone_leader_that_stops_says_so_and_blames_no_other_replica(
    caplog: pytest.LogCaptureFixture,
) -> None:
    elector = _Elector()
    gate = leadership.LeadershipGate(elector, renew_seconds=0.01, grace_seconds=0.0)

    async def scenario() -> None:
        running = asyncio.create_task(gate.run())
        await asyncio.sleep(0.05)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    with caplog.at_level("INFO", logger="agent_operator.leadership"):
        asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records]
    assert "stopping: releasing the leader Lease" in lines
    assert not any("another replica" in line for line in lines), lines
    assert elector.released


def test_invalid_settings_exit_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--namespace", "a", "--all-namespaces"]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main(["--namespace", "a", "--max-concurrent", "0"]) == 2
    assert "--max-concurrent / AGENT_OPERATOR_MAX_CONCURRENT: " in capsys.readouterr().err
