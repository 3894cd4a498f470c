"""Failures the cluster causes, on the real control plane with kwok Stages for each case:
an eviction, an image that cannot be pulled, a missing Secret key, an out-of-memory kill,
and an operator away for longer than the Job TTL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from . import test_operator as base
from .conftest import kubectl
from .test_operator import (
    OUTCOME,
    Operator,
    apply,
    jobs_by_name,
    phases,
    plan,
    profile,
    task,
    tasks_by_id,
    wait_for,
)

# The fixtures of the operator's integration tests, shared.
stages = base.stages
ns = base.ns
operators = base.operators

pytestmark = pytest.mark.integration


def _pods(ns: str, job: str) -> list[dict[str, Any]]:
    out = kubectl(
        "-n", ns, "get", "pods", "-l", f"batch.kubernetes.io/job-name={job}", "-o", "json"
    ).stdout
    return list(json.loads(out)["items"])


def _running_pod(ns: str, job: str) -> Callable[[], str | None]:
    def find() -> str | None:
        for pod in _pods(ns, job):
            if (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get(
                "deletionTimestamp"
            ):
                return str(pod["metadata"]["name"])
        return None

    return find


def test_an_eviction_is_retried_on_a_new_pod_without_a_failure_or_the_breaker(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        plan(ns, "p", circuitBreaker={"consecutiveFailures": 1, "cooldownSeconds": 600}),
        profile(ns, "hang", outcome="hang"),
        task(ns, "e", "E", plan="p", agentProfile="hang", maxRetries=0),
    )
    operators(ns)
    first = _running_pod(ns, "e-1")
    wait_for("the first pod running", lambda: first() is not None)
    evicted = first()
    assert evicted is not None
    # What the eviction API and the kubelet leave: DisruptionTarget, then a failed pod.
    status = {
        "status": {
            "phase": "Failed",
            "conditions": [
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "EvictionByEvictionAPI",
                    "message": "Eviction API: evicting",
                }
            ],
            "containerStatuses": [
                {
                    "name": "agent",
                    "image": "runner",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 137, "reason": "Error"}},
                }
            ],
        }
    }
    kubectl(
        "-n",
        ns,
        "patch",
        "pod",
        evicted,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    replacement: list[str] = []

    def new_pod() -> bool:
        name = _running_pod(ns, "e-1")()
        if name is not None and name != evicted:
            replacement.append(name)
            return True
        return False

    wait_for("a replacement pod of the same Job", new_pod, timeout=60)
    kubectl("-n", ns, "annotate", "pod", replacement[0], f"{OUTCOME}=long", "--overwrite")
    wait_for("E Succeeded", lambda: phases(ns).get("E") == "Succeeded", timeout=60)
    task_status = tasks_by_id(ns)["E"]["status"]
    assert task_status["attempts"] == 1 and task_status.get("failedAttempts", 0) == 0
    assert list(jobs_by_name(ns)) in (["e-1"], [])
    circuit = json.loads(kubectl("-n", ns, "get", "agentplan", "p", "-o", "json").stdout)["status"][
        "circuit"
    ]
    assert circuit["state"] == "Closed" and circuit.get("consecutiveFailures", 0) == 0


def test_an_image_that_cannot_be_pulled_is_named_at_once_then_ends_the_attempt(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        profile(
            ns,
            "pull",
            outcome="image-pull",
            image="registry.invalid/runner:9",
            startTimeoutSeconds=12,
        ),
        task(ns, "i", "I", agentProfile="pull", maxRetries=0),
    )
    operators(ns)
    started = time.monotonic()
    wait_for(
        "the cause in the status message",
        lambda: "ImagePullBackOff" in (tasks_by_id(ns)["I"].get("status") or {}).get("message", ""),
        timeout=30,
    )
    assert time.monotonic() - started < 12  # at once, well before the start timeout
    message = tasks_by_id(ns)["I"]["status"]["message"]
    assert "registry.invalid/runner:9" in message
    wait_for("I Failed", lambda: phases(ns).get("I") == "Failed", timeout=60)
    status = tasks_by_id(ns)["I"]["status"]
    assert status["history"][0]["reason"] == "ImagePullFailed"
    assert "registry.invalid/runner:9" in status["result"]["summary"]


def test_a_missing_secret_key_is_not_retried_and_is_named(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        profile(ns, "key", outcome="missing-key", startTimeoutSeconds=10),
        task(ns, "k", "K", agentProfile="key", maxRetries=3),
    )
    operators(ns)
    wait_for("K Failed", lambda: phases(ns).get("K") == "Failed", timeout=60)
    status = tasks_by_id(ns)["K"]["status"]
    assert status["attempts"] == 1  # not retried, although maxRetries is 3
    assert status["history"][0]["reason"] == "ContainerConfigError"
    assert "key token" in status["message"] and "git-token" in status["message"]


def test_out_of_memory_gives_the_reason_and_the_limit(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        profile(ns, "oom", outcome="oom", resources={"limits": {"memory": "768Mi"}}),
        task(ns, "o", "O", agentProfile="oom", maxRetries=0),
    )
    operators(ns)
    wait_for("O Failed", lambda: phases(ns).get("O") == "Failed", timeout=60)
    status = tasks_by_id(ns)["O"]["status"]
    assert status["history"][0]["reason"] == "OutOfMemory"
    assert "768Mi" in status["result"]["summary"]


def test_an_operator_away_longer_than_the_job_ttl_loses_no_result(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(profile(ns, "slow", outcome="long"), task(ns, "s", "S", agentProfile="slow"))
    first = operators(ns, "--job-ttl-seconds", "1")
    wait_for("S Running", lambda: phases(ns).get("S") == "Running", timeout=60)
    first.stop()
    # The attempt finishes, and the TTL controller deletes its Job, while no operator runs.
    wait_for(
        "the TTL controller deleting the finished Job",
        lambda: bool(
            (jobs_by_name(ns).get("s-1") or {}).get("metadata", {}).get("deletionTimestamp")
        ),
        timeout=60,
    )
    operators(ns, "--job-ttl-seconds", "1")
    wait_for("S Succeeded", lambda: phases(ns).get("S") == "Succeeded", timeout=60)
    status = tasks_by_id(ns)["S"]["status"]
    assert status["attempts"] == 1 and status["result"]["summary"] == "done after a while"
    wait_for("the Job let go", lambda: "s-1" not in jobs_by_name(ns), timeout=30)
    assert not _pods(ns, "s-1")
