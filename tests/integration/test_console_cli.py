"""agentctl (and `kubectl agents`) on the local control plane, error paths included."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import CLUSTER_DIR, kubectl
from tests.integration.console_fixtures import (
    BIN,
    all_succeeded,
    apply,
    dag,
    ns,
    plan,
    processes,
    task,
    tasks_by_id,
    wait_for,
)

pytestmark = pytest.mark.integration
__all__ = ["ns", "processes"]  # fixtures, used by name


def agentctl(cluster: Path, *args: str, program: str = "agentctl",
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / program), *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, "KUBECONFIG": str(cluster), **(env or {})},
    )


def ok(cluster: Path, *args: str) -> str:
    done = agentctl(cluster, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("agentctl: error: ")
    for word in words:
        assert word in lines[0], lines[0]


def test_commands_read_and_change_the_cluster(cluster: Path, ns: str, processes: Any) -> None:
    apply(plan(ns, "cli"), *dag(ns, "cli", levels=2, width=2),
          task(ns, "cli-later", "T003.001", plan="cli", dependsOn=["T002.001"], suspend=True))
    processes["operator"](ns)
    wait_for("level 2 to succeed", lambda: all(
        (t.get("status") or {}).get("phase") == "Succeeded"
        for tid, t in tasks_by_id(ns).items() if tid != "T003.001"), timeout=180)

    status = ok(cluster, "-n", ns, "status")
    assert status.splitlines()[0].split()[:3] == ["PLAN", "PROGRESS", "%"]
    assert "cli" in status and "4/5" in status
    document = json.loads(ok(cluster, "status", "-n", ns, "-o", "json"))
    assert document["items"][0]["counts"]["succeeded"] == 4
    assert yaml.safe_load(ok(cluster, "status", "-n", ns, "-o", "yaml"))["items"][0]["name"] == "cli"

    nxt = json.loads(ok(cluster, "next", "-n", ns, "--plan", "cli", "-o", "json"))
    assert nxt["ready"] == []
    assert [(w["taskId"], w["reason"]) for w in nxt["waiting"]] == [("T003.001", "Suspended")]
    assert "Suspended" in ok(cluster, "next", "-n", ns)

    recent = json.loads(ok(cluster, "recent", "2", "-n", ns, "-o", "json"))["items"]
    assert len(recent) == 2 and all(c["outcome"] == "Succeeded" for c in recent)
    assert "no agent is running" in ok(cluster, "agents", "-n", ns)

    tree = ok(cluster, "graph", "cli", "-n", ns)
    assert tree.splitlines()[0].startswith("✓ T001.001")
    assert "T003.001" in tree
    assert "->" in ok(cluster, "graph", "cli", "-n", ns, "--format", "dot")
    assert ok(cluster, "graph", "cli", "-n", ns, "--format", "mermaid").startswith("flowchart LR")

    described = ok(cluster, "describe", "T002.001", "-n", ns)
    assert "Phase:          Succeeded" in described and "cli-t002-001-1" in described
    assert json.loads(ok(cluster, "describe", "cli-t002-001", "-n", ns, "-o", "json"))[
        "attempts"][0]["outcome"] == "Succeeded"

    # resume the suspended task: it runs; then rerun a finished one; pause the plan.
    assert "resumed" in ok(cluster, "resume", "T003.001", "-n", ns)
    wait_for("T003.001 to succeed", all_succeeded(ns, 5), timeout=120)
    assert "rerun requested" in ok(cluster, "rerun", "T001.001", "-n", ns)
    wait_for("the rerun's second attempt", lambda: tasks_by_id(ns)["T001.001"]["status"].get(
        "attempts") == 1 and len(tasks_by_id(ns)["T001.001"]["status"]["history"]) == 2,
        timeout=120)
    assert "paused" in ok(cluster, "pause", "cli", "-n", ns)
    assert kubectl("-n", ns, "get", "agentplan", "cli", "-o",
                   "jsonpath={.spec.paused}").stdout == "true"
    assert "resumed" in ok(cluster, "resume", "plan/cli", "-n", ns)
    assert "suspended" in ok(cluster, "suspend", "T003.001", "-n", ns)
    assert kubectl("-n", ns, "get", "agenttask", "cli-later", "-o",
                   "jsonpath={.spec.suspend}").stdout == "true"

    # kubectl finds the plugin on PATH: `kubectl agents status`
    plugin = subprocess.run(
        [str(CLUSTER_DIR / "bin" / "kubectl"), "agents", "status", "-n", ns],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "KUBECONFIG": str(cluster), "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    assert plugin.returncode == 0, plugin.stderr
    assert "cli" in plugin.stdout


def test_logs_prints_the_attempts_log(cluster: Path, ns: str, processes: Any) -> None:
    apply(plan(ns, "lg"), task(ns, "lg-one", "T001.001", plan="lg"))
    processes["operator"](ns)
    wait_for("the task to succeed", all_succeeded(ns, 1), timeout=120)
    done = agentctl(cluster, "logs", "T001.001", "-n", ns)
    # kwok's pods have no container runtime, so the API server has no log to give: either
    # the log (a real cluster) or one clear line saying why.
    if done.returncode == 0:
        assert "sk-test" not in done.stdout
    else:
        one_line_error(done)


def test_errors_are_one_line_and_a_non_zero_exit(cluster: Path, ns: str, tmp_path: Path) -> None:
    apply(plan(ns, "err"), task(ns, "err-a", "T001.001", plan="err"),
          task(ns, "other-a", "T001.001", plan="other"))
    one_line_error(agentctl(cluster, "describe", "T404.404", "-n", ns), "T404.404", ns)
    one_line_error(agentctl(cluster, "describe", "T001.001", "-n", ns), "matches 2 tasks",
                   "--plan")
    assert agentctl(cluster, "describe", "T001.001", "--plan", "err", "-n", ns).returncode == 0
    one_line_error(agentctl(cluster, "graph", "nope", "-n", ns), "no plan 'nope'")
    one_line_error(agentctl(cluster, "rerun", "err-a", "-n", ns), "only a finished task")
    one_line_error(agentctl(cluster, "pause", "other", "-n", ns), "no AgentPlan object")
    one_line_error(agentctl(cluster, "logs", "err-a", "-n", ns), "no attempt yet")
    one_line_error(agentctl(cluster, "status", "--context", "nope"), "nope")
    one_line_error(agentctl(cluster, "status", env={"KUBECONFIG": "/nonexistent/kubeconfig"}),
                   "kubeconfig")
    unreachable = agentctl(cluster, "status", "--request-timeout", "2",
                           env={"KUBECONFIG": str(_unreachable_kubeconfig(cluster, tmp_path))})
    one_line_error(unreachable, "cannot reach the API server")
    usage = agentctl(cluster, "status", "-o", "xml")
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1


def _unreachable_kubeconfig(cluster: Path, folder: Path) -> Path:
    config = yaml.safe_load(cluster.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = "https://127.0.0.1:1"
    path = folder / "kubeconfig-unreachable"
    path.write_text(yaml.safe_dump(config))
    return path
