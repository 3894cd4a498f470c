"""The main job, end to end: a markdown plan runs to completion through the operator.

    make demo          (runs this with the local control plane up)

What it does, on the cluster KUBECONFIG names:
1. installs the CRDs, the chart's default AgentProfiles and default plan in a namespace;
2. copies examples/plans/sample-plan.md to .cluster/demo/ (the repository's copy is
   never touched) and runs the operator and the sync sidecar against it as local
   processes;
3. starts agent-dashboard beside them and prints its URL (kept up while the demo runs;
   AO_DEMO_HOLD=1 keeps it up afterwards until Ctrl-C);
4. shows progress live until every task has succeeded and every box in the file is
   ticked. One task waits on a gate ("blocked by: ..."); once nothing else can run, the
   demo lifts it by editing the file, as a person would, and the sidecar carries that
   edit to the cluster.

On the local control plane the agents are simulated: kwok runs each agent pod to
completion without running the runner. With ANTHROPIC_API_KEY set and KUBECONFIG naming
a real cluster (AO_DEMO_REAL=1), the same steps run real agents, in the runner image
AO_RUNNER_IMAGE (built from runner/Dockerfile and pushed where the cluster pulls from).
On the kind cluster `make kind-up` makes (AO_DEMO_OPERATOR=cluster, set by hack/demo.sh)
the chart's operator runs the Jobs and only the sync sidecar runs here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from agent_api import models
from agent_sync import markdown

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cluster" / "demo"
SAMPLE = REPO / "examples" / "plans" / "sample-plan.md"
FINISHED = {"Succeeded", "Failed", "Cancelled"}
GATE_LINE = re.compile(r"^\s*blocked by:(?![^\n]*T\d{3}\.\d{3}).*\n", re.MULTILINE | re.IGNORECASE)


def tool(name: str) -> str:
    local = REPO / ".cluster" / "bin" / name
    return str(local) if local.exists() else name


def run(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"demo: `{' '.join(args[:4])} ...` failed:\n{result.stderr.strip()}")
    return result.stdout


def install(namespace: str, real: bool) -> None:
    kubectl = tool("kubectl")
    print("- CRDs from crds/")
    run(kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    run(kubectl, "wait", "--for=condition=Established", "--timeout=60s",
        "crd/agenttasks.orchestration.coditect.ai", "crd/agentplans.orchestration.coditect.ai",
        "crd/agentprofiles.orchestration.coditect.ai")
    run(kubectl, "apply", "-f", "-", stdin=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
    print(f"- the chart's default AgentProfiles and plan, in namespace {namespace}")
    image_values: list[str] = []
    runner_image = os.environ.get("AO_RUNNER_IMAGE", "")  # e.g. registry/runner:tag
    if runner_image:
        repository, _, tag = runner_image.rpartition(":")
        image_values = ["--set", f"runner.repository={repository}", "--set", f"runner.tag={tag}"]
    rendered = run(
        tool("helm"), "template", "demo", str(REPO / "charts" / "agent-orchestrator"),
        "--namespace", namespace, "--set", f"profiles.namespaces={{{namespace}}}",
        "--api-versions", f"{models.GROUP}/{models.VERSION}", *image_values,
        "--show-only", "templates/profiles.yaml", "--show-only", "templates/defaultplan.yaml",
    )
    run(kubectl, "apply", "-n", namespace, "-f", "-", stdin=rendered)
    key = os.environ.get("ANTHROPIC_API_KEY", "") if real else "simulated-by-kwok"
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": models.DEFAULT_API_KEY_SECRET, "namespace": namespace,
                     "labels": {f"{models.GROUP}/agent-credential": "true"}},
        "stringData": {models.DEFAULT_API_KEY_KEY: key},
    }
    run(kubectl, "apply", "-f", "-", stdin=yaml.safe_dump(secret))


def clear_previous_run(namespace: str, plan: str) -> None:
    """A plan left from an earlier demo is deleted (its tasks and Jobs go with it)."""
    kubectl = tool("kubectl")
    run(kubectl, "delete", "agentplan", plan, "-n", namespace, "--ignore-not-found", "--wait")
    run(kubectl, "delete", "agenttasks", "-n", namespace, "-l", f"{models.LABEL_PLAN}={plan}",
        "--ignore-not-found", "--wait")


def start(name: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    print(f"- {name}: {' '.join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args))}")
    handle = log.open("wb")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def dashboard_port() -> int:
    """AO_DASHBOARD_PORT, else 8080 when free, else any free port (on 127.0.0.1)."""
    wanted = int(os.environ.get("AO_DASHBOARD_PORT", "8080"))
    for port in (wanted, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise SystemExit("demo: no free port for the dashboard")


def tasks_of(api: kubernetes.client.CustomObjectsApi, namespace: str, plan: str) -> list[Any]:
    listing = api.list_namespaced_custom_object(
        models.GROUP, models.VERSION, namespace, "agenttasks",
        label_selector=f"{models.LABEL_PLAN}={plan}",
    )
    return list(listing["items"])


def ticked(path: Path) -> tuple[int, int]:
    parsed = markdown.parse(path.read_text(encoding="utf-8"))
    return sum(1 for t in parsed.tasks if t.done), len(parsed.tasks)


def bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return "#" * filled + "." * (width - filled)


def watch(namespace: str, plan: str, file: Path, timeout: float) -> bool:
    api = kubernetes.client.CustomObjectsApi()
    started = time.monotonic()
    gate_lifted = False
    last_line = ""
    while time.monotonic() - started < timeout:
        items = tasks_of(api, namespace, plan)
        phases = Counter((t.get("status") or {}).get("phase") or "Pending" for t in items)
        boxes, total = ticked(file)
        elapsed = time.monotonic() - started
        line = (
            f"[{bar(phases['Succeeded'], len(items))}] {phases['Succeeded']:>2}/{len(items)} "
            f"succeeded | running {phases['Running']} queued {phases['Queued']} "
            f"blocked {phases['Blocked']} failed {phases['Failed']} | "
            f"boxes ticked {boxes}/{total} | {elapsed:5.1f}s"
        )
        if line[:-8] != last_line[:-8]:
            print(line, flush=True)
            last_line = line
        if items and phases["Failed"]:
            print("Some tasks failed for good; see `kubectl get agenttasks -o wide`.")
            return False
        if items and phases["Succeeded"] == len(items) and boxes == total:
            return True
        movable = phases["Running"] + phases["Queued"] + phases["Retrying"] + phases["Pending"]
        gated = [t for t in items if (t.get("spec") or {}).get("gates")]
        if items and not movable and gated and not gate_lifted:
            for task in gated:
                print(f"  {task['spec']['taskId']} waits on a gate: {task['spec']['gates']}; "
                      "lifting it in the file, as a person would.")
            text = file.read_text(encoding="utf-8")
            file.write_text(GATE_LINE.sub("", text), encoding="utf-8")
            gate_lifted = True
        time.sleep(0.5)
    print(f"Timed out after {timeout:.0f}s.")
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namespace", default="demo")
    parser.add_argument("--plan", default="sample")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    real = os.environ.get("AO_DEMO_REAL") == "1"
    if real and not os.environ.get("ANTHROPIC_API_KEY"):
        sys.exit("demo: AO_DEMO_REAL=1 needs ANTHROPIC_API_KEY in the environment.")
    kubernetes.config.load_kube_config()
    print("agent-orchestrator demo on", os.environ.get("KUBECONFIG", "~/.kube/config"))
    print("Agents are " + ("REAL Claude agents (ANTHROPIC_API_KEY)." if real else
          "simulated: kwok runs each agent pod to completion on fake nodes."))
    install(args.namespace, real)
    clear_previous_run(args.namespace, args.plan)

    WORK.mkdir(parents=True, exist_ok=True)
    file = WORK / "sample-plan.md"
    shutil.copyfile(SAMPLE, file)
    print(f"- plan file: {file} (a copy of {SAMPLE.relative_to(REPO)})")
    bin_dir = Path(sys.executable).parent
    operator = None
    if os.environ.get("AO_DEMO_OPERATOR") == "cluster":
        print("- operator: the chart's, in the cluster")
    else:
        operator = start("operator", [
            str(bin_dir / "agent-operator"), "--namespace", args.namespace, "--no-leader-election",
            "--metrics-port", "0", "--health-port", "0", "--listen-address", "127.0.0.1",
        ], WORK / "operator.log")
    sidecar = start("sync sidecar", [
        str(bin_dir / "agent-sync"), "run", "--file", str(file), "--plan", args.plan,
        "--namespace", args.namespace, "--debounce-seconds", "0.5", "--metrics-port", "0",
    ], WORK / "sync.log")
    port = dashboard_port()
    dashboard = start("dashboard", [
        str(bin_dir / "agent-dashboard"), "--namespace", args.namespace,
        "--port", str(port), "--listen-address", "127.0.0.1",
    ], WORK / "dashboard.log")
    url = f"http://127.0.0.1:{port}/#/plan/{args.namespace}/{args.plan}"
    print(f"\nDashboard: {url}  (up while the demo runs; AO_DEMO_HOLD=1 keeps it after)")
    print()
    try:
        ok = watch(args.namespace, args.plan, file, args.timeout)
        if os.environ.get("AO_DEMO_HOLD") == "1":
            print(f"\nThe dashboard stays up at {url}: Ctrl-C to stop.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while dashboard.poll() is None:
                    time.sleep(1)
    finally:
        stop(dashboard)
        stop(sidecar)
        if operator is not None:
            stop(operator)
    print()
    print(run(tool("kubectl"), "get", "agenttasks", "-n", args.namespace,
              "-l", f"{models.LABEL_PLAN}={args.plan}"))
    print(run(tool("kubectl"), "get", "agentplan", args.plan, "-n", args.namespace))
    print(f"Ticked file: {file}; logs: {WORK}/operator.log, {WORK}/sync.log, "
          f"{WORK}/dashboard.log")
    print("Done: every task succeeded and every box is ticked." if ok
          else "The demo did not finish.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
