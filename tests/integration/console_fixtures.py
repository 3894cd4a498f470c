"""Processes and objects for the console's tests on the local control plane.

The dashboard and the operator run as their console scripts (real processes, stopped
by PID after each test); objects are applied with the cluster's kubectl.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO, kubectl

GROUP = "orchestration.coditect.ai"
BIN = REPO / ".venv" / "bin"
ARTIFACTS = Path(os.environ.get("AO_TEST_ARTIFACTS", REPO / "test-artifacts")) / "console"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Process:
    """A console script of the project; its output goes to a log shown on failure."""

    def __init__(self, cluster: Path, log: Path, *argv: str, env: dict[str, str] | None = None):
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            list(argv),
            env={**os.environ, "KUBECONFIG": str(cluster), **(env or {})},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log_file.close()


class Dashboard(Process):
    def __init__(self, cluster: Path, log: Path, namespace: str, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            cluster, log, str(BIN / "agent-dashboard"), "--namespace", namespace,
            "--port", str(self.port), "--listen-address", "127.0.0.1", *args,
        )
        wait_for("the dashboard to sync", lambda: self.status("/readyz") == 200, timeout=60)

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}/api/v1{path}", timeout=10) as answer:
            return json.loads(answer.read())


@pytest.fixture
def processes(cluster: Path, tmp_path: Path) -> Iterator[dict[str, Callable[..., Any]]]:
    """Starts dashboards and operators; each is stopped by PID after the test."""
    started: list[Process] = []

    def dashboard(namespace: str, *args: str) -> Dashboard:
        found = Dashboard(cluster, tmp_path / f"dashboard-{len(started)}.log", namespace, *args)
        started.append(found)
        return found

    def operator(namespace: str, *args: str) -> Process:
        found = Process(
            cluster, tmp_path / f"operator-{len(started)}.log",
            str(BIN / "agent-operator"), "--namespace", namespace, *args,
            env={"AGENT_OPERATOR_METRICS_PORT": "0", "AGENT_OPERATOR_HEALTH_PORT": "0",
                 "AGENT_OPERATOR_LISTEN_ADDRESS": "127.0.0.1", "AGENT_OPERATOR_PEERING_NAME": "",
                 "AGENT_OPERATOR_ALLOWED_IMAGES": "*",
                 "AGENT_OPERATOR_ALLOWED_ANNOTATION_PREFIXES": "sim.orchestration.coditect.ai/"},
        )
        started.append(found)
        return found

    yield {"dashboard": dashboard, "operator": operator}
    for process in started:
        process.stop()
    for process in started:
        print(f"--- {process.log.name} (last 30 lines)")
        print("\n".join(process.log.read_text(errors="replace").splitlines()[-30:]))


@pytest.fixture
def ns(namespace: str) -> str:
    """A namespace with the API key Secret the agent Jobs reference."""
    kubectl("-n", namespace, "create", "secret", "generic", "anthropic-api-key",
            "--from-literal=ANTHROPIC_API_KEY=sk-test")
    kubectl("-n", namespace, "label", "secret", "anthropic-api-key",
            "orchestration.coditect.ai/agent-credential=true")
    return namespace


def apply(*objects: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def plan(ns: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AgentPlan",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def task(ns: str, name: str, task_id: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("title", f"task {task_id}")
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "AgentTask",
            "metadata": {"name": name, "namespace": ns}, "spec": {"taskId": task_id, **spec}}


def dag(ns: str, plan_name: str, levels: int, width: int) -> list[dict[str, Any]]:
    """`levels` levels of `width` tasks; each depends on two tasks of the level above."""
    objects = []
    for level in range(levels):
        for i in range(width):
            tid = f"T{level + 1:03d}.{i + 1:03d}"
            deps = sorted({f"T{level:03d}.{i + 1:03d}", f"T{level:03d}.{(i + 1) % width + 1:03d}"}
                          ) if level else []
            objects.append(task(ns, f"{plan_name}-{tid.lower().replace('.', '-')}", tid,
                                plan=plan_name, dependsOn=deps))
    return objects


def tasks_by_id(ns: str) -> dict[str, dict[str, Any]]:
    items = json.loads(kubectl("-n", ns, "get", "agenttasks", "-o", "json").stdout)["items"]
    return {t["spec"]["taskId"]: t for t in items}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def all_succeeded(ns: str, expected: int) -> Callable[[], bool]:
    def check() -> bool:
        found = tasks_by_id(ns)
        return len(found) == expected and all(
            (t.get("status") or {}).get("phase") == "Succeeded" for t in found.values()
        )
    return check
