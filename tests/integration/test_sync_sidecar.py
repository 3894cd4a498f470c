"""The sync sidecar against the real control plane, in file mode.

What is real: the API server with the CRDs, server-side apply, the status
subresource, watches, the file system and watchdog. What is simulated: the operator,
whose only part here (setting status.phase) is done by patching the status
subresource as the operator would. The sidecar runs in this process (service.run in a
thread) and is stopped through its stop event at the end of every test.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from agent_api import models
from agent_sync import metrics, service, sidecar, textfile
from agent_sync.settings import Settings

from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration

SAMPLE = REPO / "examples" / "plans" / "sample-plan.md"
PLAN = "payments"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Tasks:
    """Reads and pokes AgentTasks in one namespace, as a person or the operator would."""

    def __init__(self, api: kubernetes.client.ApiClient, namespace: str):
        self.custom = kubernetes.client.CustomObjectsApi(api)
        self.namespace = namespace

    def all(self) -> dict[str, dict[str, Any]]:
        answer = self.custom.list_namespaced_custom_object(
            models.GROUP, models.VERSION, self.namespace, "agenttasks"
        )
        return {item["spec"]["taskId"]: item for item in answer["items"]}

    def get(self, task_id: str) -> dict[str, Any] | None:
        return self.all().get(task_id)

    def set_phase(self, task_id: str, phase: str) -> None:
        name = f"{PLAN}-{task_id.lower().replace('.', '-')}"
        obj = self.custom.get_namespaced_custom_object(
            models.GROUP, models.VERSION, self.namespace, "agenttasks", name
        )
        observed = (obj.get("spec") or {}).get("rerun")
        self.custom.patch_namespaced_custom_object_status(
            models.GROUP, models.VERSION, self.namespace, "agenttasks", name,
            {"status": {"phase": phase, "observedRerun": observed}},
        )

    def plan(self) -> dict[str, Any]:
        plan: dict[str, Any] = self.custom.get_namespaced_custom_object(
            models.GROUP, models.VERSION, self.namespace, "agentplans", PLAN
        )
        return plan


@contextmanager
def running(settings: Settings, source: sidecar.Source | None = None) -> Iterator[metrics.Metrics]:
    """The sidecar in a thread; stopped (and checked to stop) on exit."""
    registry = metrics.Metrics()
    stop = threading.Event()
    failures: list[BaseException] = []

    def target() -> None:
        try:
            if source is None:
                service.run(settings, stop, registry)
            else:
                run_with_source(settings, stop, registry, source)
        except BaseException as error:  # surfaced to the test below
            failures.append(error)

    thread = threading.Thread(target=target, name="agent-sync", daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the sidecar did not stop within 15 s"
        assert not failures, failures


def run_with_source(
    settings: Settings, stop: threading.Event, registry: metrics.Metrics, source: sidecar.Source
) -> None:
    """service.run, but with a given Source (to inject a person's edit at a chosen moment)."""
    from agent_kube import kubeconfig
    from agent_sync import cluster as cluster_io
    from agent_sync import watching
    from agent_sync.ids import IdPattern

    client = kubeconfig.api_client(settings.kubeconfig)
    cluster = cluster_io.Cluster(client, namespace=str(settings.namespace), plan=settings.plan)
    loop = sidecar.Sidecar(
        cluster=cluster, source=source, plan=settings.plan, source_path=settings.source_path(),
        pattern=IdPattern.compile(settings.id_pattern), metrics=registry,
        status_mode=settings.status_comments,
    )
    debouncer = watching.SyncDebouncer(debounce=settings.debounce_seconds, max_wait=5)
    threading.Thread(
        target=cluster.watch_tasks, args=(debouncer.cluster_changed, stop), daemon=True
    ).start()
    stop_watching = None
    if settings.file is not None:
        stop_watching = watching.watch_file(settings.file.resolve(), debouncer.file_changed)
    try:
        loop.run(debouncer, stop, resync=settings.poll_interval_seconds)
    finally:
        if stop_watching:
            stop_watching()


def settings_for(cluster: Path, namespace: str, file: Path, **extra: Any) -> Settings:
    """Status comments off unless a test is about them: the file then changes only where
    the test's own status changes say, even if an operator shares the cluster."""
    return Settings(**{
        "plan": PLAN, "file": file, "namespace": namespace, "kubeconfig": str(cluster),
        "debounce_seconds": 0.2, "metrics_port": 0, "poll_interval_seconds": 5,
        "status_comments": "none", **extra,
    })


def failed_syncs(registry: metrics.Metrics) -> float:
    return registry.syncs.labels("failed")._value.get()


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.md"
    path.write_bytes(SAMPLE.read_bytes())
    return path


@pytest.fixture
def tasks(api: kubernetes.client.ApiClient, namespace: str) -> Tasks:
    return Tasks(api, namespace)


def test_file_becomes_tasks_and_plan(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    with running(settings_for(cluster, namespace, plan_file)) as registry:
        found = wait_for("27 tasks", lambda: len(tasks.all()) == 27 and tasks.all())
        payments = found["T003.002"]
        assert payments["metadata"]["name"] == "payments-t003-002"
        assert payments["metadata"]["labels"] == {
            models.LABEL_PLAN: PLAN, models.LABEL_MILESTONE: "t003",
            models.LABEL_TASK_ID: "T003.002", models.LABEL_MANAGED_BY: "agent-sync",
        }
        assert "ownerReferences" not in payments["metadata"]
        spec = payments["spec"]
        assert spec["dependsOn"] == ["T003.001", "T002.003"]
        assert spec["priority"] == "P0"
        assert spec["plan"] == PLAN
        assert "Idempotency-Key" in spec["description"]
        assert found["T002.005"]["spec"]["gates"] == ["security review of the network design"]
        assert found["T001.001"]["spec"]["done"] is True
        assert found["T003.004"]["spec"]["priority"] == "P2"
        source = tasks.plan()["spec"]["source"]
        assert source["path"] == str(plan_file)
        assert source.get("idPattern", models.DEFAULT_TASK_ID_PATTERN) == (
            models.DEFAULT_TASK_ID_PATTERN
        )
        wait_for("readiness", lambda: registry.ready)
        assert failed_syncs(registry) == 0


def test_plan_fields_set_by_people_are_kept(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    tasks.custom.create_namespaced_custom_object(
        models.GROUP, models.VERSION, namespace, "agentplans",
        {"apiVersion": models.API_VERSION, "kind": "AgentPlan", "metadata": {"name": PLAN},
         "spec": {"maxConcurrent": 9, "paused": True}},
    )
    with running(settings_for(cluster, namespace, plan_file)):
        wait_for("plan source", lambda: tasks.plan()["spec"].get("source"))
        spec = tasks.plan()["spec"]
        assert (spec["maxConcurrent"], spec["paused"]) == (9, True)


def test_an_edit_updates_its_task_and_nothing_else(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    with running(settings_for(cluster, namespace, plan_file)):
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        before = {k: v["metadata"]["generation"] for k, v in tasks.all().items()}
        text = plan_file.read_text()
        text = text.replace(
            "T003.004 Add rate limiting per merchant (after T003.002) P2",
            "T003.004 Add rate limiting per merchant and per card (after T003.003) P0",
        )
        plan_file.write_text(text)
        updated = wait_for(
            "the edited task", lambda: (t := tasks.get("T003.004"))
            and t["spec"]["priority"] == "P0" and t,
        )
        assert updated["spec"]["title"].startswith("Add rate limiting per merchant and per card")
        assert updated["spec"]["dependsOn"] == ["T003.003"]
        after = {k: v["metadata"]["generation"] for k, v in tasks.all().items()}
        changed = {k for k in before if before[k] != after[k]}
        assert changed == {"T003.004"}, "only what changed is written"


def test_a_deleted_line_prunes_only_its_own_task(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    by_hand = {
        "apiVersion": models.API_VERSION, "kind": "AgentTask",
        "metadata": {"name": "made-by-hand", "labels": {models.LABEL_PLAN: PLAN}},
        "spec": {"taskId": "T009.001", "title": "Someone else's task", "plan": PLAN},
    }
    tasks.custom.create_namespaced_custom_object(
        models.GROUP, models.VERSION, namespace, "agenttasks", by_hand
    )
    with running(settings_for(cluster, namespace, plan_file, prune_grace_seconds=0)):
        wait_for("28 tasks", lambda: len(tasks.all()) == 28)
        lines = plan_file.read_text().splitlines(keepends=True)
        plan_file.write_text("".join(line for line in lines if "T005.004" not in line))
        wait_for("T005.004 pruned", lambda: "T005.004" not in tasks.all())
        time.sleep(0.5)
        assert "T009.001" in tasks.all(), "a task the sidecar did not create is never pruned"
        assert len(tasks.all()) == 27


def test_an_unreadable_line_holds_its_task_instead_of_pruning(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    with running(settings_for(cluster, namespace, plan_file)) as registry:
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        plan_file.write_text(plan_file.read_text().replace("- [ ] T004.003", "- [~] T004.003"))
        wait_for("the problem reported", lambda: registry.problems.labels("error")._value.get())
        time.sleep(0.5)
        assert "T004.003" in tasks.all()
        assert failed_syncs(registry) == 0


def test_succeeded_ticks_the_box_changing_one_byte(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    original = plan_file.read_bytes()
    with running(settings_for(cluster, namespace, plan_file)):
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        tasks.set_phase("T002.001", "Succeeded")
        wait_for("the box ticked", lambda: b"- [x] T002.001" in plan_file.read_bytes())
        after = plan_file.read_bytes()
        assert len(after) == len(original)
        differences = [i for i in range(len(after)) if after[i] != original[i]]
        assert len(differences) == 1 and after[differences[0]:differences[0] + 1] == b"x"
        wait_for("the tick recorded", lambda: ticked(tasks.get("T002.001")))
        assert tasks.get("T002.001")["spec"]["done"] is False  # a success, not marked done


def test_running_shows_a_status_comment_then_success_removes_it(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    original = plan_file.read_text()
    with running(settings_for(cluster, namespace, plan_file, status_comments="active")):
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        tasks.set_phase("T001.002", "Running")
        wait_for("the status comment", lambda: "<!-- agent: Running -->" in plan_file.read_text())
        tasks.set_phase("T001.002", "Succeeded")
        wait_for("the box ticked", lambda: "- [x] T001.002" in plan_file.read_text())
        line = next(x for x in plan_file.read_text().splitlines() if "T001.002 Set up CI" in x)
        assert line == next(
            x for x in original.splitlines() if "T001.002 Set up CI" in x
        ).replace("- [ ]", "- [x]")


def test_unticking_a_succeeded_task_reruns_it_and_ticking_marks_done(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    with running(settings_for(cluster, namespace, plan_file)):
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        tasks.set_phase("T002.002", "Succeeded")
        wait_for("the tick recorded", lambda: ticked(tasks.get("T002.002")))
        assert tasks.get("T002.002")["spec"]["done"] is False
        plan_file.write_text(plan_file.read_text().replace("- [x] T002.002", "- [ ] T002.002"))
        rerun = wait_for("spec.rerun", lambda: tasks.get("T002.002")["spec"].get("rerun"))
        assert tasks.get("T002.002")["spec"]["done"] is False
        assert not ticked(tasks.get("T002.002"))
        time.sleep(1.0)  # the stale Succeeded phase must not tick the box again
        assert "- [ ] T002.002" in plan_file.read_text()
        tasks.set_phase("T002.002", "Running")  # the operator answers the new run
        tasks.set_phase("T002.002", "Succeeded")
        wait_for("ticked again", lambda: "- [x] T002.002" in plan_file.read_text())
        assert tasks.get("T002.002")["spec"]["rerun"] == rerun

        plan_file.write_text(plan_file.read_text().replace("- [ ] T002.004", "- [x] T002.004"))
        wait_for("a person's tick is done", lambda: tasks.get("T002.004")["spec"]["done"])


def ticked(task: dict[str, Any] | None) -> bool:
    annotations = ((task or {}).get("metadata") or {}).get("annotations") or {}
    return annotations.get("orchestration.coditect.ai/ticked") == "true"


class EditingSource(sidecar.FileSource):
    """A file whose person saves an edit just as the sidecar is about to write back."""

    def __init__(self, path: Path, edit: Callable[[str], str]):
        super().__init__(path)
        self.edit: Callable[[str], str] | None = edit

    def write(self, expected: bytes, new: bytes, message: str) -> None:
        if self.edit is not None:
            self.path.write_text(self.edit(self.path.read_text()))
            self.edit = None
        super().write(expected, new, message)


def test_a_persons_edit_during_a_write_back_survives(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    def person(text: str) -> str:
        return text.replace("Write the runbook", "Write and rehearse the runbook")

    source = EditingSource(plan_file, person)
    settings = settings_for(cluster, namespace, plan_file)
    with running(settings, source) as registry:
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        tasks.set_phase("T003.001", "Succeeded")
        wait_for("the box ticked", lambda: "- [x] T003.001" in plan_file.read_text())
        text = plan_file.read_text()
        assert "Write and rehearse the runbook" in text
        assert registry.file_races._value.get() >= 1
        wait_for(
            "the person's edit applied",
            lambda: tasks.get("T005.001")["spec"]["title"].startswith("Write and rehearse"),
        )
        assert failed_syncs(registry) == 0


def test_bad_input_is_survived_and_caught_up(
    cluster: Path, namespace: str, tmp_path: Path, tasks: Tasks
) -> None:
    missing = tmp_path / "later.md"
    with running(settings_for(cluster, namespace, missing)) as registry:
        wait_for("a failed sync", lambda: failed_syncs(registry) >= 1)
        assert not registry.ready
        missing.write_bytes(SAMPLE.read_bytes())
        wait_for("27 tasks", lambda: len(tasks.all()) == 27, timeout=40)
        wait_for("ready", lambda: registry.ready)


def test_a_thousand_rapid_edits_converge_without_failures_or_lost_edits(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    base = plan_file.read_text()
    ids = re.findall(r"\] (T\d{3}\.\d{3}) ", base)
    with running(settings_for(cluster, namespace, plan_file)) as registry:
        wait_for("27 tasks", lambda: len(tasks.all()) == 27)
        text = base
        for edit in range(1000):
            task_id = ids[edit % len(ids)]
            text = re.sub(rf"\] {re.escape(task_id)} (rev \d+ )?", f"] {task_id} rev {edit} ", text)
            plan_file.write_text(text)  # in place, as most editors save
            if edit % 50 == 49:
                time.sleep(0.3)  # bursts of 50 saves, then a pause
        final = {t.task_id: t.title for t in parse_file(plan_file)}

        def converged() -> bool:
            live = tasks.all()
            return all(live.get(k, {}).get("spec", {}).get("title") == v for k, v in final.items())

        wait_for("convergence", converged, timeout=60)
        assert failed_syncs(registry) == 0
        assert registry.api_conflicts._value.get() == 0


def parse_file(path: Path) -> tuple[Any, ...]:
    from agent_sync.markdown import parse

    return parse(textfile.decode(path.read_bytes())[0]).tasks


def test_the_command_serves_readiness_and_metrics_and_stops_on_sigterm(
    cluster: Path, namespace: str, plan_file: Path, tasks: Tasks
) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_sync.cli", "run", "--plan", PLAN, "--file", str(plan_file),
         "--namespace", namespace, "--metrics-port", str(port), "--metrics-host", "127.0.0.1",
         "--debounce-seconds", "0.2"],
        env={**os.environ, "KUBECONFIG": str(cluster)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_for("/readyz", ready)
        assert len(tasks.all()) == 27
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            body = answer.read().decode()
        assert 'agent_sync_syncs_total{result="succeeded"}' in body
        assert "agent_sync_last_success_timestamp_seconds" in body
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
        assert process.returncode == 0, output
        assert "stopped" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
