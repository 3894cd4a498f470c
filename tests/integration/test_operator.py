"""The operator against the real local control plane.

The operator runs as its console script (a real process, killed at the end of each test);
Jobs are created by it, scheduled by kube-scheduler, and their pods completed by kwok.
Chosen agents fail, run long or hang through kwok Stages (tests/integration/stages/),
selected by a pod annotation that an AgentProfile's spec.pod.annotations sets: the
product has no test hook.
"""

from __future__ import annotations

import collections
import datetime
import itertools
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO, kubectl

pytestmark = pytest.mark.integration

OUTCOME = "sim.orchestration.coditect.ai/outcome"
STAGES = Path(__file__).parent / "stages" / "agent-outcomes.yaml"
GROUP = "orchestration.coditect.ai"
CREDENTIAL = f"{GROUP}/agent-credential"  # the label that opts a Secret in for agents
# The kwok Stages are chosen by a pod annotation and some tests name unpullable images:
# the operator's limits are widened for them (test_sandbox.py tests the limits).
TEST_LIMITS = {
    "AGENT_OPERATOR_ALLOWED_IMAGES": "*",
    "AGENT_OPERATOR_ALLOWED_ANNOTATION_PREFIXES": "sim.orchestration.coditect.ai/",
}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def stages(cluster: Path) -> None:
    """The kwok Stages the tests select by annotation (cluster-scoped, idempotent)."""
    kubectl("apply", "-f", str(STAGES))


@pytest.fixture
def ns(namespace: str, stages: None) -> str:
    """A namespace with the API key Secret the agent Jobs reference."""
    kubectl(
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        "anthropic-api-key",
        "--from-literal=ANTHROPIC_API_KEY=sk-test",
    )
    kubectl("-n", namespace, "label", "secret", "anthropic-api-key", f"{CREDENTIAL}=true")
    return namespace


class Operator:
    """One agent-operator process; its log goes to a file shown when a test fails."""

    def __init__(
        self,
        cluster: Path,
        namespace: str,
        log: Path,
        *args: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = log
        env = {
            **os.environ,
            **(TEST_LIMITS if env is None else env),
            "KUBECONFIG": str(cluster),
            "AGENT_OPERATOR_METRICS_PORT": "0",
            "AGENT_OPERATOR_HEALTH_PORT": "0",
            "AGENT_OPERATOR_LISTEN_ADDRESS": "127.0.0.1",
            "AGENT_OPERATOR_LEADER_ELECTION": "false",
        }
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "agent-operator"), "--namespace", namespace, *args],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a node failure."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()


@pytest.fixture
def operators(cluster: Path, tmp_path: Path) -> Iterator[Callable[..., Operator]]:
    """Starts operator processes; every one is stopped (by PID) after the test."""
    started: list[Operator] = []

    def start(namespace: str, *args: str, env: dict[str, str] | None = None) -> Operator:
        op = Operator(cluster, namespace, tmp_path / f"operator-{len(started)}.log", *args, env=env)
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()
    for op in started:
        print(f"--- {op.log.name} (last 40 lines)")
        print("\n".join(op.log.read_text(errors="replace").splitlines()[-40:]))


def apply(*objects: dict[str, Any]) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def plan(ns: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AgentPlan",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def profile(ns: str, name: str, outcome: str | None = None, **spec: Any) -> dict[str, Any]:
    if outcome is not None:
        spec["pod"] = {"annotations": {OUTCOME: outcome}}
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AgentProfile",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def task(ns: str, name: str, task_id: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("title", f"task {task_id}")
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AgentTask",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"taskId": task_id, **spec},
    }


def get(kind: str, ns: str) -> list[dict[str, Any]]:
    out = kubectl("-n", ns, "get", kind, "-o", "json").stdout
    return list(json.loads(out)["items"])


def tasks_by_id(ns: str) -> dict[str, dict[str, Any]]:
    return {t["spec"]["taskId"]: t for t in get("agenttasks", ns)}


def jobs_by_name(ns: str) -> dict[str, dict[str, Any]]:
    return {j["metadata"]["name"]: j for j in get("jobs", ns)}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def phases(ns: str) -> dict[str, str | None]:
    return {tid: (t.get("status") or {}).get("phase") for tid, t in tasks_by_id(ns).items()}


def all_in(ns: str, wanted: set[str], expected: int) -> Callable[[], bool]:
    def check() -> bool:
        current = phases(ns)
        return len(current) == expected and all(p in wanted for p in current.values())

    return check


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return str(answer.read().decode())


def ts(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found["type"] == kind:
            return dict(found)
    return {}


def max_overlap(jobs: list[dict[str, Any]]) -> int:
    """Most Jobs alive at once, from creation to completion (ties: ends first)."""
    points = []
    for job in jobs:
        status = job.get("status") or {}
        end = status.get("completionTime") or next(
            (
                c["lastTransitionTime"]
                for c in status.get("conditions") or []
                if c["type"] in ("Complete", "Failed") and c["status"] == "True"
            ),
            None,
        )
        points.append((ts(job["metadata"]["creationTimestamp"]), 1))
        points.append((ts(end) if end else datetime.datetime.max.replace(tzinfo=datetime.UTC), -1))
    points.sort(key=lambda p: (p[0], p[1]))
    current = peak = 0
    for _, delta in points:
        current += delta
        peak = max(peak, current)
    return peak


def layered_dag(ns: str, plan_name: str, levels: int, width: int) -> list[dict[str, Any]]:
    """`levels` levels of `width` tasks; each task depends on two tasks of the level above."""
    objects = []
    for level in range(levels):
        for i in range(width):
            tid = f"T{level + 1:03d}.{i + 1:03d}"
            deps = (
                sorted({f"T{level:03d}.{i + 1:03d}", f"T{level:03d}.{(i + 1) % width + 1:03d}"})
                if level
                else []
            )
            objects.append(
                task(
                    ns,
                    f"{plan_name}-{tid.lower().replace('.', '-')}",
                    tid,
                    plan=plan_name,
                    dependsOn=deps,
                )
            )
    return objects


# --------------------------------------------------------------------------- tests


def test_dag_of_32_tasks_completes_in_dependency_order_within_caps(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(plan(ns, "dag", maxConcurrent=3))
    apply(*layered_dag(ns, "dag", levels=8, width=4))
    metrics_port, health_port = free_port(), free_port()
    operators(
        ns,
        "--max-concurrent",
        "5",
        "--metrics-port",
        str(metrics_port),
        "--health-port",
        str(health_port),
    )
    wait_for("32 Succeeded tasks", all_in(ns, {"Succeeded"}, 32), timeout=150)

    exposition = scrape(metrics_port, "/metrics")
    assert f'agent_operator_tasks{{namespace="{ns}",phase="Succeeded",plan="dag"}} 32.0' in (
        exposition
    )
    assert f'agent_operator_dispatch_latency_seconds_count{{namespace="{ns}"}} 32.0' in exposition
    assert (
        f'agent_operator_attempts_total{{namespace="{ns}",outcome="Succeeded",'
        f'profile="general-purpose",reason=""}} 32.0' in exposition
    )
    assert f'agent_operator_circuit_state{{namespace="{ns}",plan="dag",state="Closed"}} 1.0' in (
        exposition
    )
    scrape(health_port, "/healthz")  # kopf's liveness probe answers

    tasks = tasks_by_id(ns)
    jobs = jobs_by_name(ns)
    assert len(jobs) == 32
    for tid, obj in tasks.items():
        job = jobs[obj["status"]["history"][-1]["job"]]
        for dep in obj["spec"].get("dependsOn", []):
            dep_job = jobs[tasks[dep]["status"]["history"][-1]["job"]]
            assert ts(job["metadata"]["creationTimestamp"]) >= ts(
                dep_job["status"]["completionTime"]
            ), f"{tid} started before its dependency {dep} finished"
    assert max_overlap(list(jobs.values())) <= 3
    plan_status = get("agentplans", ns)[0]["status"]
    assert plan_status["progress"] == "32/32"
    assert plan_status["circuit"]["state"] == "Closed"
    sample = jobs["dag-t002-001-1"]
    pod = sample["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert sample["spec"]["backoffLimit"] == 0
    assert sample["metadata"]["ownerReferences"][0]["kind"] == "AgentTask"
    assert sample["metadata"]["labels"][f"{GROUP}/task-id"] == "T002.001"
    owner = tasks["T002.001"]["metadata"]["ownerReferences"]
    assert any(ref["kind"] == "AgentPlan" for ref in owner)


def test_failing_agent_retries_with_growing_gaps_then_fails_and_blocks_dependents(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        plan(ns, "p", retry={"maxRetries": 2, "backoffBaseSeconds": 2, "backoffCapSeconds": 30}),
        profile(ns, "flaky", outcome="fail", match="flaky"),
    )
    apply(
        task(ns, "p-f", "F", plan="p", title="a flaky thing"),
        task(ns, "p-d", "D", plan="p", dependsOn=["F"]),
    )
    operators(ns)
    wait_for("F Failed", lambda: phases(ns).get("F") == "Failed", timeout=60)

    status = tasks_by_id(ns)["F"]["status"]
    assert status["agentProfile"] == "flaky"
    assert status["matchedRule"] == "flaky: flaky"
    assert [r["outcome"] for r in status["history"]] == ["Failed"] * 3
    assert status["result"]["reason"] == "ToolError"
    assert status["result"]["summary"] == "simulated tool error"
    starts = [ts(r["startTime"]) for r in status["history"]]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert gaps[1] > gaps[0] + 1.0, f"backoff did not grow: {gaps}"
    assert sorted(jobs_by_name(ns)) == ["p-f-1", "p-f-2", "p-f-3"]
    dependent = tasks_by_id(ns)["D"]
    assert dependent["status"]["phase"] == "Blocked"
    assert condition(dependent, "Ready")["reason"] == "DependencyFailed"
    events = get("events", ns)
    assert any(e["involvedObject"]["name"] == "p-f" and e["reason"] == "Retrying" for e in events)


def test_a_hanging_agent_is_ended_by_its_timeout(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(profile(ns, "hang", outcome="hang"))
    apply(task(ns, "h", "H", agentProfile="hang", timeoutSeconds=3, maxRetries=0))
    operators(ns)
    wait_for("H Failed", lambda: phases(ns).get("H") == "Failed", timeout=60)
    status = tasks_by_id(ns)["H"]["status"]
    assert status["history"][0]["reason"] == "DeadlineExceeded"
    assert "timeout" in status["result"]["summary"]


def test_a_cycle_is_reported_while_the_rest_proceeds(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        task(ns, "x", "X", dependsOn=["Y"]),
        task(ns, "y", "Y", dependsOn=["X"]),
        task(ns, "z", "Z"),
        task(ns, "w", "W", dependsOn=["Z"]),
    )
    operators(ns)
    wait_for(
        "Z and W Succeeded",
        lambda: phases(ns).get("Z") == "Succeeded" and phases(ns).get("W") == "Succeeded",
    )
    tasks = tasks_by_id(ns)
    for tid in ("X", "Y"):
        ready = condition(tasks[tid], "Ready")
        assert ready["status"] == "False" and ready["reason"] == "Cycle"
        assert "X -> Y" in ready["message"]
    assert "x-1" not in jobs_by_name(ns)


def test_the_circuit_opens_after_consecutive_failures_and_closes_after_the_cooldown(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(
        plan(
            ns,
            "c",
            maxConcurrent=1,
            circuitBreaker={"consecutiveFailures": 3, "cooldownSeconds": 4},
        ),
        profile(ns, "broken", outcome="fail"),
    )
    apply(
        *[
            task(
                ns, f"c-f{i}", f"F{i}", plan="c", agentProfile="broken", maxRetries=0, priority="P0"
            )
            for i in range(3)
        ],
        task(ns, "c-good", "GOOD", plan="c", priority="P3"),
    )
    operators(ns)
    seen_open: dict[str, Any] = {}

    def opened() -> bool:
        circuit = (get("agentplans", ns)[0].get("status") or {}).get("circuit") or {}
        if circuit.get("state") == "Open":
            seen_open.update(circuit)
            return True
        return False

    wait_for("the circuit to open", opened, timeout=60)
    assert "c-good-1" not in jobs_by_name(ns)
    wait_for("GOOD Succeeded", lambda: phases(ns).get("GOOD") == "Succeeded", timeout=60)
    plan_obj = get("agentplans", ns)[0]
    assert plan_obj["status"]["circuit"]["state"] == "Closed"
    good_start = ts(tasks_by_id(ns)["GOOD"]["status"]["history"][0]["startTime"])
    assert good_start >= ts(seen_open["retryTime"])
    reasons = {e["reason"] for e in get("events", ns) if e["involvedObject"]["kind"] == "AgentPlan"}
    assert {"CircuitOpen", "CircuitClosed"} <= reasons


def test_sigkill_mid_run_and_restart_completes_with_no_duplicate_job(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(plan(ns, "k", maxConcurrent=4), profile(ns, "general-purpose", outcome="long"))
    apply(*layered_dag(ns, "k", levels=4, width=4))
    first = operators(ns)
    wait_for("some Jobs running", lambda: len(jobs_by_name(ns)) >= 4, timeout=60)
    first.kill()
    time.sleep(1.0)
    operators(ns)
    wait_for("16 Succeeded tasks", all_in(ns, {"Succeeded"}, 16), timeout=150)
    jobs = jobs_by_name(ns)
    per_task = collections.Counter(j["metadata"]["labels"][f"{GROUP}/task"] for j in jobs.values())
    assert len(jobs) == 16 and set(per_task.values()) == {1}, per_task
    for obj in tasks_by_id(ns).values():
        assert obj["status"]["attempts"] == 1
        assert obj["status"]["result"]["summary"] == "done after a while"


def test_two_operators_dispatch_each_attempt_exactly_once(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(profile(ns, "general-purpose", outcome="long"))
    apply(*[task(ns, f"t{i:02d}", f"T{i:02d}") for i in range(15)])
    operators(ns, "--leader-election", "--lease-seconds", "3")
    operators(ns, "--leader-election", "--lease-seconds", "3")
    wait_for("15 Succeeded tasks", all_in(ns, {"Succeeded"}, 15), timeout=150)
    jobs = list(jobs_by_name(ns).values())
    per_task = collections.Counter(j["metadata"]["labels"][f"{GROUP}/task"] for j in jobs)
    assert len(jobs) == 15 and set(per_task.values()) == {1}, per_task
    creators = {j["metadata"]["annotations"][f"{GROUP}/created-by"] for j in jobs}
    assert len(creators) == 1, f"more than one replica dispatched: {creators}"
    assert max_overlap(jobs) <= 5
    lease = json.loads(kubectl("-n", ns, "get", "lease", "agent-operator", "-o", "json").stdout)
    assert lease["spec"]["holderIdentity"] in creators


def test_suspend_cancels_the_running_job_and_resume_requeues_without_a_failure(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(profile(ns, "hang", outcome="hang"))
    apply(task(ns, "s", "S", agentProfile="hang", timeoutSeconds=120))
    operators(ns)
    wait_for("S Running", lambda: phases(ns).get("S") == "Running")
    assert "s-1" in jobs_by_name(ns)
    kubectl("-n", ns, "patch", "agenttask", "s", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait_for("the Job deleted", lambda: "s-1" not in jobs_by_name(ns))
    wait_for(
        "S held", lambda: condition(tasks_by_id(ns)["S"], "Ready").get("reason") == "Suspended"
    )
    status = tasks_by_id(ns)["S"]["status"]
    assert status["history"][-1]["outcome"] == "Cancelled"
    assert status.get("failedAttempts", 0) == 0
    kubectl("-n", ns, "patch", "agenttask", "s", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_for("a new attempt", lambda: "s-2" in jobs_by_name(ns))
    assert tasks_by_id(ns)["S"]["status"].get("failedAttempts", 0) == 0


def test_a_missing_api_key_secret_is_named_and_creating_it_unblocks(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(plan(ns, "k", apiKeySecret={"name": "team-key", "key": "KEY"}))
    apply(task(ns, "k-t", "T", plan="k"))
    operators(ns)

    def blocked_on_secret() -> bool:
        return condition(tasks_by_id(ns)["T"], "Ready").get("reason") == "CredentialNotAllowed"

    wait_for("CredentialNotAllowed", blocked_on_secret)
    message = condition(tasks_by_id(ns)["T"], "Ready")["message"]
    assert "team-key" in message and "kubectl" in message and CREDENTIAL in message
    kubectl("-n", ns, "create", "secret", "generic", "team-key", "--from-literal=KEY=sk")
    kubectl("-n", ns, "label", "secret", "team-key", f"{CREDENTIAL}=true")
    wait_for("T Succeeded", lambda: phases(ns).get("T") == "Succeeded", timeout=60)
    job = jobs_by_name(ns)["k-t-1"]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ANTHROPIC_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "team-key",
        "key": "KEY",
    }


def test_a_namespace_that_does_not_exist_is_one_line_naming_it(
    cluster: Path, namespace: str
) -> None:
    answer = subprocess.run(
        [str(REPO / ".venv" / "bin" / "agent-operator"), "--namespace", f"{namespace},nope-zz9",
         "--metrics-port", "0", "--health-port", "0", "--no-leader-election"],
        env={**os.environ, "KUBECONFIG": str(cluster)},
        capture_output=True, text=True, timeout=60,
    )
    assert answer.returncode == 2
    assert answer.stderr.strip() == (
        f"agent-operator: namespace nope-zz9 does not exist (--namespace / "
        f"AGENT_OPERATOR_NAMESPACES named {namespace}, nope-zz9): create it with kubectl "
        "create namespace nope-zz9, or fix the name"
    )


def test_a_task_naming_a_missing_plan_is_blocked_until_the_plan_exists(
    ns: str, operators: Callable[..., Operator]
) -> None:
    apply(task(ns, "ghost-t", "T", plan="ghost"))
    operators(ns)
    wait_for(
        "PlanNotFound",
        lambda: condition(tasks_by_id(ns)["T"], "Ready").get("reason") == "PlanNotFound",
    )
    assert phases(ns)["T"] == "Blocked"
    assert "ghost" in condition(tasks_by_id(ns)["T"], "Ready")["message"]
    assert jobs_by_name(ns) == {}
    apply(plan(ns, "ghost"))
    wait_for("T Succeeded", lambda: phases(ns).get("T") == "Succeeded", timeout=60)
