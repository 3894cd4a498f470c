"""Benchmark of the operator on the local control plane (`make bench`).

kwok completes agent pods at once, so what is measured is the operator, the API server
and the Job controller, not agents:

(a) dispatch latency of 100 ready tasks created one after another (task created -> its
    Job seen by a watch), p50/p99;
(b) dispatch throughput for 1,000 independent tasks with no caps, beside a plain async
    client creating the same Jobs in the same run (the ceiling on this machine);
(c) makespan of a 1,000-task DAG in 10 levels, and the time per level;
(d) the operator's resident memory with 10,000 AgentTasks present.

Prints a table and writes bench-results/operator.json. Numbers, not asserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from agent_api import attempt, models, timefmt
from agent_operator import jobs, kube

REPO = Path(__file__).resolve().parents[1]
KUBECONFIG = Path(os.environ.get("KUBECONFIG", REPO / ".cluster" / "kubeconfig"))
RESULTS = REPO / "bench-results" / "operator.json"
GROUP_PATH = f"/apis/{models.GROUP}/{models.VERSION}"
CONCURRENCY = 32  # the operator's own write concurrency, for a like-for-like baseline


def task_body(ns: str, name: str, task_id: str, plan: str, deps: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"taskId": task_id, "title": f"bench {task_id}", "plan": plan}
    if deps:
        spec["dependsOn"] = deps
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentTask",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


class Bench:
    """One API client and the namespaces and processes a run made (all cleaned up)."""

    def __init__(self, client: kube.Kube) -> None:
        self.client = client
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    async def namespace(self, plan_spec: dict[str, Any]) -> str:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        await self.client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
        self.namespaces.append(name)

        # No pod can be made before the namespace's default ServiceAccount exists; on a
        # control plane just started its controller can lag, and the Job controller's
        # back-off would then count against the operator.
        async def service_account() -> bool:
            try:
                await self.client.request(
                    "GET", f"/api/v1/namespaces/{name}/serviceaccounts/default"
                )
            except kube.ApiError as error:
                if error.status != 404:
                    raise
                return False
            return True

        await wait_until(service_account, 120, interval=0.2)
        await self.client.request(
            "POST",
            f"/api/v1/namespaces/{name}/secrets",
            body={
                "metadata": {
                    "name": models.DEFAULT_API_KEY_SECRET,
                    "labels": {f"{models.GROUP}/agent-credential": "true"},
                },
                "stringData": {models.DEFAULT_API_KEY_KEY: "sk-bench"},
            },
        )
        await self.client.request(
            "POST",
            f"{GROUP_PATH}/namespaces/{name}/agentplans",
            body={
                "apiVersion": models.API_VERSION,
                "kind": "AgentPlan",
                "metadata": {"name": "bench", "namespace": name},
                "spec": plan_spec,
            },
        )
        return name

    def _log(self, ns: str) -> Any:
        """The operator's log, kept beside the results: a scenario that stalls says why."""
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        return (RESULTS.parent / f"operator-{ns}.log").open("wb")

    def operator(self, ns: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "KUBECONFIG": str(KUBECONFIG)}
        process = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "agent-operator"),
                "--namespace",
                ns,
                "--max-concurrent",
                "10000",
                "--no-leader-election",
                "--metrics-port",
                "0",
                "--health-port",
                "0",
                "--log-level",
                "WARNING",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log(ns),
        )
        self.processes.append(process)
        return process

    async def create_tasks(self, bodies: list[dict[str, Any]], concurrency: int = 64) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(body: dict[str, Any]) -> None:
            async with gate:
                path = f"{GROUP_PATH}/namespaces/{body['metadata']['namespace']}/agenttasks"
                await self.client.request("POST", path, body=body)

        await asyncio.gather(*(one(b) for b in bodies))

    async def cleanup(self) -> None:
        # Namespaces go first, while the operators still run: a Job and its pod carry the
        # operator's result finalizer, which only a running operator releases.
        for ns in self.namespaces:
            with contextlib.suppress(kube.ApiError):
                await self.client.request("DELETE", f"/api/v1/namespaces/{ns}")
        # The next scenario starts on a quiet cluster: the garbage collection of
        # thousands of objects would otherwise be measured with it.
        deadline = time.monotonic() + 600
        for ns in self.namespaces:
            while time.monotonic() < deadline:
                try:
                    await self.client.request("GET", f"/api/v1/namespaces/{ns}")
                except kube.ApiError as error:
                    if error.status == 404:
                        break
                    raise
                await asyncio.sleep(2.0)
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


async def job_added_times(
    client: kube.Kube, ns: str, seen: dict[str, float]
) -> AsyncIterator[None]:
    """Records when each Job of `ns` is first seen (by its task label)."""
    async for event in client.watch(f"/apis/batch/v1/namespaces/{ns}/jobs"):
        if event.get("type") == "ADDED":
            labels = event["object"]["metadata"].get("labels") or {}
            seen.setdefault(
                labels.get(models.LABEL_TASK, event["object"]["metadata"]["name"]), time.monotonic()
            )
            yield None


async def watch_into(client: kube.Kube, ns: str, seen: dict[str, float]) -> None:
    async for _ in job_added_times(client, ns, seen):
        pass


async def wait_until(check: Any, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise TimeoutError("benchmark step timed out")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# --------------------------------------------------------------------------- scenarios


async def latency(bench: Bench, count: int = 100) -> dict[str, Any]:
    ns = await bench.namespace({"maxConcurrent": 1000})
    seen: dict[str, float] = {}
    watcher = asyncio.create_task(watch_into(bench.client, ns, seen))
    bench.operator(ns)
    await bench.create_tasks([task_body(ns, "warmup", "W", "bench", [])])

    async def warmed() -> bool:
        return "warmup" in seen

    await wait_until(warmed, 60)
    created: dict[str, float] = {}
    for i in range(count):
        name = f"t{i:03d}"
        await bench.create_tasks([task_body(ns, name, f"T{i:03d}", "bench", [])])
        created[name] = time.monotonic()
        await asyncio.sleep(0.02)

    async def all_seen() -> bool:
        return all(name in seen for name in created)

    await wait_until(all_seen, 120)
    watcher.cancel()
    values = [seen[name] - created[name] for name in created]
    return {
        "tasks": count,
        "p50_seconds": round(statistics.median(values), 4),
        "p99_seconds": round(percentile(values, 0.99), 4),
        "max_seconds": round(max(values), 4),
    }


async def throughput(bench: Bench, count: int = 1000) -> dict[str, Any]:
    # The ceiling: a plain async client creating the same Jobs, as fast as it can.
    base_ns = await bench.namespace({"maxConcurrent": 1000})
    manifests = []
    for i in range(count):
        body = task_body(base_ns, f"t{i:04d}", f"T{i:04d}", "bench", [])
        body["metadata"]["uid"] = str(uuid.uuid4())
        manifest = jobs.build(
            jobs.JobInputs(
                task=body,
                attempt=1,
                profile_name="general-purpose",
                profile=models.AgentProfileSpec(),
                api_key=models.AgentPlanSpec().api_key_secret,
                plan_name="bench",
                context=attempt.AttemptContext(attempt=1),
                ttl_seconds=3600,
                created_by="bench",
            )
        )
        del manifest["metadata"]["ownerReferences"]  # no owner: the GC would delete them
        manifests.append(manifest)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def create(manifest: dict[str, Any]) -> None:
        async with gate:
            await bench.client.create_job(manifest)

    started = time.monotonic()
    await asyncio.gather(*(create(m) for m in manifests))
    baseline_seconds = time.monotonic() - started

    async def baseline_done() -> bool:
        items, _ = await bench.client.list_all(kube.Kube.jobs_path(base_ns))
        return sum(1 for j in items if (j.get("status") or {}).get("succeeded")) == count

    await wait_until(baseline_done, 600, interval=2.0)  # its pods no longer load the cluster

    # The operator: the same number of ready tasks, no caps.
    ns = await bench.namespace({"maxConcurrent": 1000})
    await bench.create_tasks(
        [task_body(ns, f"t{i:04d}", f"T{i:04d}", "bench", []) for i in range(count)]
    )
    seen: dict[str, float] = {}
    watcher = asyncio.create_task(watch_into(bench.client, ns, seen))
    await asyncio.sleep(0.5)
    launched = time.monotonic()
    bench.operator(ns)

    async def all_seen() -> bool:
        return len(seen) >= count

    await wait_until(all_seen, 300)
    watcher.cancel()
    first, last = min(seen.values()), max(seen.values())
    operator_seconds = last - first
    return {
        "tasks": count,
        "baseline_jobs_per_second": round(count / baseline_seconds, 1),
        "operator_jobs_per_second": round(count / operator_seconds, 1),
        "ratio": round(baseline_seconds / operator_seconds, 3),
        "operator_start_to_first_job_seconds": round(first - launched, 2),
        "concurrency": CONCURRENCY,
    }


async def job_lifecycle(
    client: kube.Kube, ns: str, added: dict[str, float], completed: dict[str, float]
) -> None:
    """Records, by task name, when each Job of `ns` is first seen and first seen complete
    (a watch's own clock: the API stores these times in whole seconds)."""
    async for event in client.watch(f"/apis/batch/v1/namespaces/{ns}/jobs"):
        job = event.get("object") or {}
        labels = (job.get("metadata") or {}).get("labels") or {}
        task = labels.get(models.LABEL_TASK)
        if not task:
            continue
        now = time.monotonic()
        added.setdefault(task, now)
        conditions = (job.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions):
            completed.setdefault(task, now)


def dependent_start_seconds(
    dependencies: dict[str, list[str]], added: dict[str, float], completed: dict[str, float]
) -> list[float]:
    """For each task with dependencies: its Job's creation minus the completion of the last
    of its dependencies' Jobs, all as seen by one watch."""
    return [
        added[task] - max(completed[dep] for dep in deps)
        for task, deps in dependencies.items()
        if deps and task in added and all(dep in completed for dep in deps)
    ]


async def dag(bench: Bench, levels: int = 10, width: int = 100) -> dict[str, Any]:
    ns = await bench.namespace({"maxConcurrent": 1000})
    added: dict[str, float] = {}
    completed: dict[str, float] = {}
    watcher = asyncio.create_task(job_lifecycle(bench.client, ns, added, completed))
    bench.operator(ns)
    await asyncio.sleep(3.0)  # the operator is up and watching
    bodies = []
    dependencies: dict[str, list[str]] = {}  # task name -> its dependencies' task names
    for level in range(levels):
        for i in range(width):
            tid = f"L{level:02d}.{i:03d}"
            deps = (
                sorted({f"L{level - 1:02d}.{i:03d}", f"L{level - 1:02d}.{(i + 1) % width:03d}"})
                if level
                else []
            )
            name = tid.lower().replace(".", "-")
            dependencies[name] = [d.lower().replace(".", "-") for d in deps]
            bodies.append(task_body(ns, name, tid, "bench", deps))
    started = time.monotonic()
    await bench.create_tasks(bodies)
    path = f"{GROUP_PATH}/namespaces/{ns}/agenttasks"

    async def finished() -> bool:
        items, _ = await bench.client.list_all(path)
        return len(items) == len(bodies) and all(
            (t.get("status") or {}).get("phase") == "Succeeded" for t in items
        )

    await wait_until(finished, 900, interval=1.0)
    makespan = time.monotonic() - started
    watcher.cancel()
    waits = dependent_start_seconds(dependencies, added, completed)
    # The cluster's own share: how long each Job took from creation to completion
    # (kube-scheduler, kwok and the Job controller; whole seconds, as the API stores them).
    items, _ = await bench.client.list_all(kube.Kube.jobs_path(ns))
    job_seconds = [
        (
            timefmt.parse_time(j["status"]["completionTime"])  # type: ignore[operator]
            - timefmt.parse_time(j["metadata"]["creationTimestamp"])
        ).total_seconds()
        for j in items
        if (j.get("status") or {}).get("completionTime")
    ]
    return {
        "tasks": len(bodies),
        "levels": levels,
        "makespan_seconds": round(makespan, 1),
        "seconds_per_level": round(makespan / levels, 2),
        "job_create_to_complete_p50_seconds": statistics.median(job_seconds),
        "job_create_to_complete_max_seconds": max(job_seconds),
        # The operator's own share of a level: a dependent's Job created after the last of
        # its dependencies' Jobs completed (goal: p99 within 0.5 s).
        "dependent_after_dependency_p50_seconds": round(statistics.median(waits), 3),
        "dependent_after_dependency_p99_seconds": round(percentile(waits, 0.99), 3),
        "dependents_measured": len(waits),
        "note": "a level's time includes kube-scheduler, kwok and the Job controller",
    }


def rss_megabytes(pid: int, field: str = "VmRSS:") -> float:
    """Resident (VmRSS) or peak resident (VmHWM) memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


async def memory(bench: Bench, count: int = 10000) -> dict[str, Any]:
    ns = await bench.namespace({"paused": True})
    await bench.create_tasks(
        [task_body(ns, f"t{i:05d}", f"T{i:05d}", "bench", []) for i in range(count)],
        concurrency=64,
    )
    # The baseline: a plain async client writing one status patch to each task, the
    # least a first pass over them can do; the operator then still writes its own.
    gate = asyncio.Semaphore(CONCURRENCY)

    async def patch(index: int) -> None:
        async with gate:
            await bench.client.patch_status(
                "AgentTask", ns, f"t{index:05d}", {"message": "waiting for the operator"}
            )

    baseline_started = time.monotonic()
    await asyncio.gather(*(patch(i) for i in range(count)))
    baseline_seconds = time.monotonic() - baseline_started
    started = time.monotonic()
    process = bench.operator(ns)
    path = f"{GROUP_PATH}/namespaces/{ns}/agentplans/bench"

    async def settled() -> bool:
        plan = await bench.client.request("GET", path)
        return int(((plan.get("status") or {}).get("counts") or {}).get("blocked", 0)) == count

    await wait_until(settled, 900, interval=2.0)
    settle_seconds = time.monotonic() - started
    await asyncio.sleep(15.0)  # the first pass's Events and watch echoes are processed
    return {
        "tasks": count,
        "rss_megabytes": round(rss_megabytes(process.pid), 1),
        "peak_rss_megabytes": round(rss_megabytes(process.pid, "VmHWM:"), 1),
        "first_full_pass_seconds": round(settle_seconds, 1),
        "baseline_status_patches_seconds": round(baseline_seconds, 1),
        # goal: within 1.5x of the plain client's patches
        "first_pass_to_baseline_ratio": round(settle_seconds / baseline_seconds, 2),
    }


SCENARIOS: dict[str, Callable[[Bench], Awaitable[dict[str, Any]]]] = {
    "a_dispatch_latency": latency,
    "b_dispatch_throughput": throughput,
    "c_dag_makespan": dag,
    "d_memory": memory,
}


async def run_all(only: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with kube.Kube(kube.connection_from_environment(str(KUBECONFIG))) as client:
        for name, scenario in SCENARIOS.items():
            if only and not any(name.startswith(prefix) for prefix in only):
                continue
            bench = Bench(client)
            try:
                results[name] = await scenario(bench)
            except Exception as error:
                results[name] = {"error": f"{type(error).__name__}: {error}"}
            finally:
                await bench.cleanup()
    return results


def main(argv: list[str] | None = None) -> int:
    """Runs every scenario (or those named by prefix, e.g. `a d`); prints a table; writes
    bench-results/operator.json."""
    results = asyncio.run(run_all(sys.argv[1:] if argv is None else argv))
    results["machine"] = {"cpus": os.cpu_count()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'scenario':<24} {'metric':<40} value")
    for scenario, values in results.items():
        for metric, value in values.items():
            print(f"{scenario:<24} {metric:<40} {value}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
    return 1 if any("error" in values for values in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
