"""Failures the cluster causes are not the agent's: disruptions, pods that cannot start,
out-of-memory kills, and results that outlive the Job's TTL. Driven pass by pass through
the in-memory world (see operator_world.py)."""

from __future__ import annotations

import json

from agent_api import models
from agent_operator import conditions, jobs
from operator_world import World, plan, profile, task

EVICTED = [{"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}]


def test_an_evicted_attempt_is_retried_without_counting_or_touching_the_breaker() -> None:
    world = World(
        plan("p", circuitBreaker={"consecutiveFailures": 1, "cooldownSeconds": 300}),
        task("t", plan="p", maxRetries=0),
    )
    world.step()
    world.finish_job("t-1", ok=False, exit_code=137, pod_conditions=EVICTED)
    world.step()
    status = world.status("t")
    assert status.phase == "Retrying" and status.failed_attempts == 0 and status.disruptions == 1
    assert status.history[0].reason == "Disrupted"
    assert world.get("AgentPlan", "p")["status"]["circuit"]["state"] == "Closed"
    world.advance(6)
    world.step()
    assert world.running_jobs() == ["t-2"]
    world.finish_job("t-2", message=json.dumps({"status": "succeeded", "summary": "done"}))
    world.step()
    assert world.phase("t") == "Succeeded" and world.status("t").failed_attempts == 0


def test_a_flapping_node_cannot_loop_a_task_forever() -> None:
    world = World(task("t"))
    world.step()
    for attempt in range(1, 7):
        world.finish_job(f"t-{attempt}", ok=False, exit_code=137, pod_conditions=EVICTED)
        world.step()
        world.advance(6)
        world.step()
    status = world.status("t")
    assert status.phase == "Failed" and status.disruptions == 6
    assert "ended by the cluster" in (status.message or "")


def test_out_of_memory_names_the_limit_and_retries_with_more_memory() -> None:
    world = World(
        profile(
            "big",
            retryMemoryFactor=2,
            resources={"requests": {"memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        ),
        task("t", agentProfile="big"),
    )
    world.step()
    world.finish_job("t-1", ok=False, exit_code=137, terminated_reason="OOMKilled")
    world.step()
    status = world.status("t")
    assert status.history[0].reason == "OutOfMemory"
    assert status.result is not None and "memory limit 1Gi" in status.result.summary
    world.advance(60)
    world.step()
    resources = world.get("Job", "t-2")["spec"]["template"]["spec"]["containers"][1]["resources"]
    assert resources == {
        "requests": {"memory": "1024Mi", "ephemeral-storage": jobs.EPHEMERAL_STORAGE_REQUEST},
        "limits": {"memory": "2048Mi", "ephemeral-storage": jobs.EPHEMERAL_STORAGE_LIMIT},
    }


def test_a_pod_that_cannot_pull_its_image_shows_why_then_ends_at_the_start_timeout() -> None:
    world = World(
        profile("p", startTimeoutSeconds=60, image="reg/nope:1"), task("t", agentProfile="p")
    )
    world.step()
    world.pod_waits("t-1", "ImagePullBackOff", "Back-off pulling image")
    world.advance(1)
    world.step()
    assert world.phase("t") == "Running"
    assert "ImagePullBackOff" in (world.status("t").message or "")
    assert "reg/nope:1" in (world.status("t").message or "")
    world.advance(60)
    world.step()
    status = world.status("t")
    assert status.history[0].reason == "ImagePullFailed"
    assert status.phase == "Retrying"  # a registry may come back: retried
    assert "t-1" in world.deleted_jobs


def test_an_unstarted_attempt_the_watch_does_not_show_is_looked_into_after_a_grace() -> None:
    world = World(task("t"))
    world.step()
    # A pod the watch has not shown: its pods are read from the API.
    world.pod_waits("t-1", "ImagePullBackOff", "Back-off pulling image", watched=False)
    world.step()  # the pass right after the create: nearly every pod starts by itself
    assert world.cluster.pod_reads == 0
    world.advance(9)
    world.step()
    assert world.cluster.pod_reads == 0
    world.advance(1)
    world.step()
    assert world.cluster.pod_reads == 1 and "ImagePullBackOff" in (world.status("t").message or "")
    world.advance(2)
    world.step()  # what the last look found stands until the next one is due
    assert world.cluster.pod_reads == 1 and "ImagePullBackOff" in (world.status("t").message or "")
    world.advance(3)
    world.step()
    assert world.cluster.pod_reads == 2


def test_an_unstarted_attempt_the_watch_shows_costs_no_call() -> None:
    world = World(task("t"))
    world.step()
    world.pod_waits("t-1", "ImagePullBackOff", "Back-off pulling image")
    for _ in range(3):
        world.step()
        world.advance(5)
    assert "ImagePullBackOff" in (world.status("t").message or "")
    assert world.cluster.pod_reads == 0


def test_a_missing_secret_key_is_not_retried_and_is_named() -> None:
    world = World(profile("p", startTimeoutSeconds=30), task("t", agentProfile="p"))
    world.step()
    world.pod_waits(
        "t-1", "CreateContainerConfigError", "couldn't find key token in Secret ns/git-token"
    )
    world.advance(31)
    world.step()
    status = world.status("t")
    assert status.phase == "Failed" and status.history[0].reason == "ContainerConfigError"
    assert "key token" in (status.message or "")
    succeeded = conditions.find(status.conditions, conditions.SUCCEEDED)
    assert succeeded is not None and succeeded.reason == "ContainerConfigError"


def test_a_finished_job_is_held_until_its_result_is_recorded() -> None:
    world = World(task("t"))
    world.step()
    job = world.get("Job", "t-1")
    assert jobs.RESULT_FINALIZER in job["metadata"]["finalizers"]
    assert jobs.RESULT_FINALIZER in job["spec"]["template"]["metadata"]["finalizers"]
    world.finish_job("t-1", message=json.dumps({"status": "succeeded", "summary": "kept"}))
    # The TTL controller deletes the finished Job while the operator is away.
    world.delete_job("t-1")
    assert world.get("Job", "t-1")["metadata"]["deletionTimestamp"]
    world.step()
    assert world.phase("t") == "Succeeded"
    assert world.status("t").result is not None and world.status("t").result.summary == "kept"
    assert world.cluster.released == []  # recorded this pass; let go once the API has it
    world.step()
    assert world.cluster.released == ["t-1"] and world.cluster.released_pods == ["t-1-pod"]
    assert ("ns", "t-1") not in world.objects["Job"]
    assert world.created_jobs == ["t-1"]  # no rerun


def test_the_jobs_of_a_deleted_task_are_let_go() -> None:
    world = World(task("t"))
    world.step()
    world.cluster.remove("AgentTask", "ns", "t")
    world.delete_job("t-1")  # the garbage collector, after the task
    world.step()
    assert world.cluster.released == ["t-1"]


def test_the_profile_start_timeout_and_a_pod_failure_policy_are_on_the_job() -> None:
    world = World(profile("p", startTimeoutSeconds=45), task("t", agentProfile="p"))
    world.step()
    job = world.get("Job", "t-1")
    assert job["metadata"]["annotations"][jobs.ANNOTATION_START_TIMEOUT] == "45"
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]
    assert models.AgentProfileSpec().start_timeout_seconds == 300
