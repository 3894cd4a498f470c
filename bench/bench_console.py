"""Benchmark of agent-dashboard on the local control plane (`make bench`).

With 10,000 AgentTasks in one namespace (a 1,000-task plan in 10 dependency levels, a
500-task plan, and 8,500 more in plans of 500), one agent-dashboard process watching it:

(a) API latency over HTTP, p50/p99 of 200 requests each: the plan list and the
    1,000-task plan, warm (the document already encoded for the current view) and cold
    (the first request after a change, which builds and encodes it);
(b) a task's status change to the dashboard's API showing it, p50/p99 of 20 changes
    (the change is served before the operator's decision over it; how long that decision
    still took after the last change is reported beside);
(c) the plan page's first render for the 500-task plan in headless Chromium (the
    system's, driven by Playwright): from navigation start to the first frame painted
    with the graph's 500 nodes, median and max of 5 page loads, once the dashboard's
    decision has caught up (as (a) warm);
(d) the dashboard's resident memory with the 10,000 tasks, and its first sync.

Prints a table and writes bench-results/console.json. Numbers, not asserts.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from agent_api import models
from agent_operator import kube

from bench.bench_operator import GROUP_PATH, KUBECONFIG, REPO, Bench, percentile, rss_megabytes

RESULTS = REPO / "bench-results" / "console.json"
CHROMIUM = os.environ.get("AO_CHROMIUM", "/usr/bin/chromium")


def plan_tasks(ns: str, plan: str, count: int, levels: int) -> list[dict[str, Any]]:
    width = max(count // levels, 1)
    bodies = []
    for i in range(count):
        level, index = divmod(i, width)
        task_id = f"T{level + 1:03d}.{index + 1:03d}"
        deps = (
            sorted({f"T{level:03d}.{index + 1:03d}", f"T{level:03d}.{(index + 1) % width + 1:03d}"})
            if level
            else []
        )
        spec: dict[str, Any] = {"taskId": task_id, "title": f"bench {task_id}", "plan": plan}
        if deps:
            spec["dependsOn"] = deps
        bodies.append({
            "apiVersion": models.API_VERSION,
            "kind": "AgentTask",
            "metadata": {"name": f"{plan}-{task_id.lower().replace('.', '-')}", "namespace": ns},
            "spec": spec,
        })
    return bodies


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def timed(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        answer.read()
    return (time.perf_counter() - started) * 1000.0


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
    }


async def run(bench: Bench) -> dict[str, Any]:
    ns = await bench.namespace({"paused": True})  # plan "bench": nothing is dispatched
    bodies = plan_tasks(ns, "big", 1000, 10) + plan_tasks(ns, "web", 500, 10)
    for i in range(17):
        bodies += plan_tasks(ns, f"other{i:02d}", 500, 5)
    await bench.create_tasks(bodies, concurrency=64)
    port = 18080 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    log = (REPO / "bench-results" / "dashboard.log").open("wb")
    process = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "agent-dashboard"), "--namespace", ns, "--port", str(port),
         "--listen-address", "127.0.0.1"],
        env={**os.environ, "KUBECONFIG": str(KUBECONFIG)}, stdout=log, stderr=subprocess.STDOUT,
    )
    bench.processes.append(process)
    results: dict[str, Any] = {"tasks": len(bodies)}
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                info = get(f"{base}/api/v1/info")
                if info["synced"] and info["tasks"] == len(bodies):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the dashboard did not sync in 300 s")
            await asyncio.sleep(0.2)
        results["d_first_sync_seconds"] = round(time.monotonic() - started, 1)
        await asyncio.sleep(2.0)
        await decided(base)
        plans_url = f"{base}/api/v1/plans"
        plan_url = f"{base}/api/v1/namespaces/{ns}/plans/big"
        for name, url in (("plan_list", plans_url), ("plan_1000_tasks", plan_url)):
            timed(url)
            results[f"a_{name}_warm"] = summary([timed(url) for _ in range(200)])

        # cold: change one task, wait for the new view, time the first request
        task_path = f"{GROUP_PATH}/namespaces/{ns}/agenttasks/big-t001-001"
        cold: dict[str, list[float]] = {"plan_list": [], "plan_1000_tasks": []}
        change: list[float] = []
        for i in range(20):
            version = get(f"{base}/api/v1/info")["version"]
            phase = "Blocked" if i % 2 else "Queued"
            changed = time.perf_counter()
            await bench.client.request(
                "PATCH", f"{task_path}/status", body={"status": {"phase": phase}},
                content_type="application/merge-patch+json",
            )
            while get(f"{base}/api/v1/info")["version"] == version:
                await asyncio.sleep(0.005)
            cold["plan_list"].append(timed(plans_url))
            cold["plan_1000_tasks"].append(timed(plan_url))
            while True:  # the change itself, as the page's next fetch would see it
                rows = get(plan_url)["tasks"]
                if next(r for r in rows if r["name"] == "big-t001-001")["phase"] == phase:
                    break
                await asyncio.sleep(0.005)
            change.append((time.perf_counter() - changed) * 1000.0)
        for name, values in cold.items():
            results[f"a_{name}_cold"] = summary(values)
        results["b_change_to_api"] = summary(change)
        started = time.monotonic()
        await decided(base)
        results["b_decision_after_last_change_seconds"] = round(time.monotonic() - started, 1)
        results["c_page_first_render_500_tasks"] = await asyncio.to_thread(first_render, base, ns)
        results["d_rss_megabytes"] = round(rss_megabytes(process.pid), 1)
        results["d_peak_rss_megabytes"] = round(rss_megabytes(process.pid, "VmHWM:"), 1)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
    return results


async def decided(base: str) -> None:
    """Until the dashboard's decision is over its latest view: (a) warm and (c) measure
    the requests and the page, not a decision running beside them."""
    deadline = time.monotonic() + 300
    while not get(f"{base}/api/v1/info").get("decided", True) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


def first_render(base: str, ns: str) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        return {"skipped": f"no {CHROMIUM} (apt-get install chromium)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed"}
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for _ in range(5):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/#/plan/{ns}/web")
            page.wait_for_function("document.querySelectorAll('#graph g.node').length === 500",
                                   timeout=30000)
            # the page marks the first frame painted after the graph entered the DOM
            page.wait_for_function("performance.getEntriesByName('plan-painted').length > 0")
            drawn = page.evaluate("performance.getEntriesByName('plan-painted')[0].startTime")
            times.append(float(drawn))
            page.close()
        browser.close()
    return {"median_ms": round(statistics.median(times)), "max_ms": round(max(times)),
            "runs": len(times)}


async def run_all() -> dict[str, Any]:
    async with kube.Kube(kube.connection_from_environment(str(KUBECONFIG))) as client:
        bench = Bench(client)
        try:
            return await run(bench)
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}
        finally:
            await bench.cleanup()


def main() -> int:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run_all())
    results["machine"] = {"cpus": os.cpu_count()}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'metric':<36} value")
    for metric, value in results.items():
        print(f"{metric:<36} {value}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
    return 1 if "error" in results else 0


if __name__ == "__main__":
    sys.exit(main())
