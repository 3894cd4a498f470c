"""Benchmark of the sync sidecar (`make bench`).

(a) parse and lint of generated 1,000- and 10,000-task files (goal: 10,000 in < 100 ms),
    and as a ratio to one regular expression scanning the same text for task lines in
    the same run (goal: within 3x); adversarial lines (runs of whitespace, a 1 MB line);
(b) latency from a file edit to the task updated in the cluster, p50/p99;
(c) latency from a task's status Succeeded to its box ticked in the file, p50/p99;
(d) the 1,000-edit storm (bursts of saves): time to converge after the last save,
    failed syncs (goal 0), API conflicts and write-back races seen.

(b)-(d) run the sidecar in this process against the local control plane, with a
debounce of DEBOUNCE seconds (the default is 2 s, which adds to (b) one for one).
Prints a table and writes bench-results/sync.json. Numbers, not asserts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kubernetes
from agent_api import models
from agent_sync import lint, markdown, metrics, service
from agent_sync.settings import Settings

REPO = Path(__file__).resolve().parents[1]
KUBECONFIG = Path(os.environ.get("KUBECONFIG", REPO / ".cluster" / "kubeconfig"))
RESULTS = REPO / "bench-results" / "sync.json"
DEBOUNCE = 0.1
PLAN = "bench"
SAMPLES = 50


def generated_plan(tasks: int) -> str:
    """A realistic plan: milestones of 100 tasks, dependencies, priorities, gates, nesting."""
    lines = ["# Generated plan", ""]
    for index in range(tasks):
        milestone, number = divmod(index, 100)
        if number == 0:
            lines += ["", f"## T{milestone + 1:03d} Milestone {milestone + 1}", ""]
        task_id = f"T{milestone + 1:03d}.{number + 1:03d}"
        deps = f" (after T{milestone + 1:03d}.{number:03d})" if number else ""
        box = "x" if number < 5 else " "  # the start of each milestone's chain is done
        indent = "  " if index % 10 == 5 else ""
        lines.append(f"{indent}- [{box}] {task_id} Implement part {index} of the service"
                     f"{deps} P{index % 4}")
        if index % 5 == 0:
            lines.append(f"{indent}  Details: keep the API stable; requires review. ")
        if index % 50 == 0:
            lines.append(f"{indent}  blocked by: capacity review {index}")
    return "\n".join(lines) + "\n"


# The baseline of the parser: one expression that finds every task line and its ID and
# text, the least any reader of the format must do.
SINGLE_SCAN = re.compile(
    r"^[ \t]*+(?:[-*+]|\d{1,9}[.)])[ \t]++\[([ xX])\][ \t]++(T\d{3}\.\d{3})([^\n]*+)$", re.M
)


def time_parse_lint(tasks: int, repeats: int) -> dict[str, Any]:
    text = generated_plan(tasks)
    times, cpu, scans = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        found = SINGLE_SCAN.findall(text)
        scans.append((time.perf_counter() - start) * 1000)
        start, start_cpu = time.perf_counter(), time.process_time()
        parsed = markdown.parse(text)
        problems = lint.lint(parsed)
        cpu.append((time.process_time() - start_cpu) * 1000)
        times.append((time.perf_counter() - start) * 1000)
    assert len(parsed.tasks) == tasks == len(found), (len(parsed.tasks), problems[:3])
    return {
        "tasks": tasks,
        "lines": text.count("\n"),
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "median_cpu_ms": round(statistics.median(cpu), 2),  # this process's CPU time only
        "single_regex_scan_median_ms": round(statistics.median(scans), 2),
        "ratio_to_single_scan": round(statistics.median(times) / statistics.median(scans), 2),
        "problems": len(problems),
    }


def adversarial_lines() -> dict[str, float]:
    """Milliseconds to parse+lint lines that were quadratic before (numbers, not asserts)."""
    cases = {
        "heading, 20,000 characters of whitespace": "#" + " \t" * 10_000 + "x\n",
        "1 MB task line": "- [ ] T001.001 " + "word " * 200_000 + "\n",
        "Priority: and 1 MB of spaces": "- [ ] T001.001 x Priority:" + " " * 1_000_000 + "\n",
        "1 MB line of NUL bytes": "\x00" * 1_000_000 + "\n",
    }
    results = {}
    for label, text in cases.items():
        start = time.perf_counter()
        lint.lint(markdown.parse(text))
        results[label] = round((time.perf_counter() - start) * 1000, 2)
    return results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait_for(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("the sidecar did not converge in time")


@contextmanager
def sidecar(namespace: str, file: Path) -> Iterator[metrics.Metrics]:
    registry = metrics.Metrics()
    stop = threading.Event()
    settings = Settings(
        plan=PLAN, file=file, namespace=namespace, kubeconfig=str(KUBECONFIG),
        debounce_seconds=DEBOUNCE, metrics_port=0, poll_interval_seconds=30,
    )
    thread = threading.Thread(target=service.run, args=(settings, stop, registry), daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        stop.set()
        thread.join(timeout=15)


def cluster_scenarios() -> dict[str, Any]:
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(KUBECONFIG), client_configuration=config
    )
    client = kubernetes.client.ApiClient(config)
    core = kubernetes.client.CoreV1Api(client)
    custom = kubernetes.client.CustomObjectsApi(client)
    namespace = f"bench-sync-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace))
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    file = folder / "plan.md"
    text = generated_plan(100)
    file.write_text(text)

    def task(task_id: str) -> dict[str, Any]:
        name = f"{PLAN}-{task_id.lower().replace('.', '-')}"
        obj: Any = custom.get_namespaced_custom_object(
            models.GROUP, models.VERSION, namespace, "agenttasks", name
        )
        return dict(obj)

    def count() -> int:
        answer: Any = custom.list_namespaced_custom_object(
            models.GROUP, models.VERSION, namespace, "agenttasks"
        )
        return len(answer["items"])

    results: dict[str, Any] = {"debounce_seconds": DEBOUNCE}
    try:
        with sidecar(namespace, file) as registry:
            wait_for(lambda: count() == 100)
            ids = re.findall(r"\] (T\d{3}\.\d{3}) ", text)

            edit_latency = []
            for sample in range(SAMPLES):
                task_id = ids[sample % len(ids)]
                marker = f"edit {sample}"
                text = re.sub(rf"\] {re.escape(task_id)} (edit \d+ )?",
                              f"] {task_id} {marker} ", text)
                start = time.monotonic()
                file.write_text(text)
                wait_for(lambda: marker in task(task_id)["spec"]["title"])  # noqa: B023
                edit_latency.append(time.monotonic() - start)
            results["edit_to_task"] = summary(edit_latency)

            tick_latency = []
            open_ids = [i for i in ids if f"[ ] {i} " in text][:SAMPLES]
            for task_id in open_ids:
                name = f"{PLAN}-{task_id.lower().replace('.', '-')}"
                start = time.monotonic()
                custom.patch_namespaced_custom_object_status(
                    models.GROUP, models.VERSION, namespace, "agenttasks", name,
                    {"status": {"phase": "Succeeded"}},
                )
                wait_for(lambda: f"[x] {task_id} " in file.read_text())  # noqa: B023
                tick_latency.append(time.monotonic() - start)
            results["success_to_tick"] = summary(tick_latency)

            text = file.read_text()
            storm_start = time.monotonic()
            for edit in range(1000):
                task_id = ids[edit % len(ids)]
                text = re.sub(rf"\] {re.escape(task_id)} ((edit|rev) \d+ )?",
                              f"] {task_id} rev {edit} ", text)
                file.write_text(text)
                if edit % 50 == 49:
                    time.sleep(0.2)
            last_write = time.monotonic()
            final = {t.task_id: t.title for t in markdown.parse(text).tasks}

            def converged() -> bool:
                answer: Any = custom.list_namespaced_custom_object(
                    models.GROUP, models.VERSION, namespace, "agenttasks"
                )
                live = {i["spec"]["taskId"]: i["spec"]["title"] for i in answer["items"]}
                return live == final

            wait_for(converged, timeout=120, interval=0.02)
            done = time.monotonic()
            results["storm"] = {
                "edits": 1000,
                "writing_seconds": round(last_write - storm_start, 2),
                "converge_after_last_edit_seconds": round(done - last_write, 3),
                "syncs": registry.syncs.labels("succeeded")._value.get(),
                "failed_syncs": registry.syncs.labels("failed")._value.get(),
                "api_conflicts": registry.api_conflicts._value.get(),
                "write_back_races": registry.file_races._value.get(),
            }
    finally:
        core.delete_namespace(namespace, propagation_policy="Background")
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return results


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "samples": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def calibration_ms() -> float:
    """CPU time of sum(range(10**6)): about 10-15 ms on a current laptop; scales the rest."""
    times = []
    for _ in range(5):
        start = time.process_time()
        sum(range(10**6))
        times.append((time.process_time() - start) * 1000)
    return round(min(times), 1)


def main() -> int:
    """Runs every scenario; prints a table; writes bench-results/sync.json."""
    logging.getLogger("agent_sync").setLevel(logging.ERROR)  # the table, not the sync log
    results: dict[str, Any] = {
        "python_calibration_ms": calibration_ms(),
        "parse_lint": [time_parse_lint(1000, 20), time_parse_lint(10000, 10)],
        "adversarial_ms": adversarial_lines(),
    }
    if "--parse-only" in sys.argv:
        results["cluster"] = {"skipped": "--parse-only"}
    elif KUBECONFIG.exists():
        results["cluster"] = cluster_scenarios()
    else:
        results["cluster"] = {"skipped": f"no kubeconfig at {KUBECONFIG}: run make cluster-up"}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    print(f"sync sidecar (calibration: sum(range(10**6)) = {results['python_calibration_ms']} ms"
          " CPU on this machine)")
    print(f"  {'scenario':44} {'result':>30}")
    for row in results["parse_lint"]:
        label = f"parse+lint {row['tasks']:,} tasks (median wall / CPU)"
        print(f"  {label:44} {str(row['median_ms']) + ' / ' + str(row['median_cpu_ms']):>27} ms")
        scan = (f"{row['ratio_to_single_scan']}x "
                f"(scan {row['single_regex_scan_median_ms']} ms)")
        print(f"  {'  ratio to a single-regex scan (goal <= 3x)':44} {scan:>30}")
    for label, ms in results["adversarial_ms"].items():
        print(f"  {'adversarial: ' + label:44} {ms:>27} ms")
    cluster = results["cluster"]
    if "skipped" in cluster:
        print(f"  cluster scenarios skipped: {cluster['skipped']}")
    else:
        debounce = f"(debounce {cluster['debounce_seconds']} s)"
        for key, label in (("edit_to_task", f"file edit -> task updated {debounce}"),
                           ("success_to_tick", "Succeeded -> box ticked")):
            row = cluster[key]
            latency = f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"
            print(f"  {label:44} {latency:>30}")
        storm = cluster["storm"]
        print(f"  {'1,000-edit storm: converge after last edit':44} "
              f"{storm['converge_after_last_edit_seconds']:>28} s")
        counts = " / ".join(
            str(int(storm[key])) for key in ("failed_syncs", "api_conflicts", "write_back_races")
        )
        print(f"  {'  failed syncs / API conflicts / races':44} {counts:>30}")
    print(f"  written to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
