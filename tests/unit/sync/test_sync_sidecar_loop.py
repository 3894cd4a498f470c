"""One sync, end to end, against a fake of our own `Cluster` boundary.

The fake keeps objects in a dict and answers like the API server for what the
sidecar uses (apply merges the owned fields, status is untouched by apply). The
real API server is exercised in tests/integration/test_sync_sidecar.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_sync import pruning, sidecar, textfile
from agent_sync.ids import IdPattern

PRUNED_AT = "orchestration.coditect.ai/pruned-at"
ALLOW = "orchestration.coditect.ai/allow-mass-prune"


class FakeCluster:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.plan: dict[str, Any] | None = None
        self.applies: list[str] = []
        self.deleted: list[str] = []
        self.reruns: dict[str, str] = {}
        self.conflicts = 0
        self.down = False
        self.marked: list[str] = []
        self.released: list[str] = []
        self.events: list[tuple[str, str]] = []

    def list_tasks(self) -> dict[str, dict[str, Any]]:
        if self.down:
            raise ConnectionRefusedError("connection refused")
        return {k: {**v, "spec": dict(v["spec"])} for k, v in self.objects.items()}

    def get_plan(self) -> dict[str, Any] | None:
        return self.plan

    def apply(self, manifest: dict[str, Any], *, manager: str = "agent-sync") -> None:
        name = manifest["metadata"]["name"]
        if manifest["kind"] == "AgentPlan":
            self.plan = {**(self.plan or {}), **manifest}
            return
        current = self.objects.setdefault(name, {"metadata": {}, "spec": {}, "status": {}})
        current["metadata"] = {**manifest["metadata"], "uid": f"uid-{name}"}
        current["spec"].update(manifest["spec"])
        self.applies.append(name)

    def request_rerun(self, name: str, value: str) -> None:
        self.objects[name]["spec"]["rerun"] = value
        self.reruns[name] = value

    def delete_task(self, name: str, uid: str | None) -> None:
        assert uid == f"uid-{name}"
        del self.objects[name]
        self.deleted.append(name)

    def record_sync(self, when: str) -> None:
        pass

    def mark_pruned(self, name: str, when: str) -> None:
        obj = self.objects[name]
        obj["metadata"] = {**obj["metadata"], "annotations": {PRUNED_AT: when}}
        obj["spec"]["suspend"] = True
        self.marked.append(name)

    def release_prune(self, name: str) -> None:
        obj = self.objects[name]
        obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "annotations"}
        obj["spec"].pop("suspend", None)
        self.released.append(name)

    def set_plan_conditions(self, conditions: list[dict[str, Any]]) -> None:
        assert self.plan is not None
        self.plan.setdefault("status", {})["conditions"] = conditions

    def forget_mass_prune_permission(self) -> None:
        assert self.plan is not None
        self.plan["metadata"].get("annotations", {}).pop(ALLOW, None)

    def plan_event(self, plan: dict[str, Any], reason: str, message: str, when: str) -> None:
        self.events.append((reason, message))

    def phase(self, name: str, phase: str) -> None:
        obj = self.objects[name]
        obj["status"] = {"phase": phase, "observedRerun": obj["spec"].get("rerun")}


def make(
    path: Path, fake: FakeCluster, clock: list[str] | None = None, **options: Any
) -> sidecar.Sidecar:
    now = clock or ["2026-11-24T00:00:00Z"]
    return sidecar.Sidecar(
        cluster=fake,  # type: ignore[arg-type]
        source=sidecar.FileSource(path),
        plan="p",
        source_path=str(path),
        pattern=IdPattern.compile(),
        clock=lambda: now[0],
        **options,
    )


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.md"
    path.write_bytes(b"# Plan\r\n- [ ] T001.001 One\r\n- [ ] T001.002 Two after T001.001\r\n")
    return path


def test_first_sync_applies_plan_and_tasks_second_does_nothing(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    report = loop.sync_once()
    assert report.applied == ["p-t001-001", "p-t001-002"]
    assert fake.plan is not None
    assert loop.sync_once().applied == []


def test_success_ticks_the_box_and_stays_a_success_not_marked_done(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    fake.phase("p-t001-001", "Succeeded")
    report = loop.sync_once()
    assert report.ticked == ["T001.001"]
    assert plan.read_bytes() == b"# Plan\r\n- [x] T001.001 One\r\n- [ ] T001.002 Two after T001.001\r\n"
    task = fake.objects["p-t001-001"]
    assert task["spec"]["done"] is False  # the sidecar's own tick is not a person's
    assert task["metadata"]["annotations"] == {"orchestration.coditect.ai/ticked": "true"}
    assert loop.sync_once().applied == []  # and the next sync agrees with it


def test_a_box_a_person_ticks_before_success_is_marked_done(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    fake.phase("p-t001-001", "Running")
    plan.write_bytes(plan.read_bytes().replace(b"[ ] T001.001", b"[x] T001.001"))
    loop.sync_once()
    assert fake.objects["p-t001-001"]["spec"]["done"] is True


def test_untick_after_success_requests_a_rerun_once(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    fake.phase("p-t001-001", "Succeeded")
    loop.sync_once()
    plan.write_bytes(plan.read_bytes().replace(b"[x] T001.001", b"[ ] T001.001"))
    report = loop.sync_once()
    assert report.reruns == ["T001.001"]
    assert fake.objects["p-t001-001"]["spec"]["done"] is False
    again = loop.sync_once()  # the operator has not answered the rerun yet
    assert again.reruns == [] and again.ticked == []
    assert b"[ ] T001.001" in plan.read_bytes()


def test_a_deleted_line_suspends_its_task_then_prunes_it_after_the_grace_period(
    plan: Path,
) -> None:
    fake = FakeCluster()
    clock = ["2026-11-24T00:00:00Z"]
    loop = make(plan, fake, clock, prune_policy=pruning.Policy(grace_seconds=60))
    loop.sync_once()
    plan.write_bytes(b"- [ ] T001.001 One\n")
    report = loop.sync_once()
    assert report.marked == ["p-t001-002"] and report.pruned == []
    task = fake.objects["p-t001-002"]
    assert task["spec"]["suspend"] is True
    assert task["metadata"]["annotations"] == {PRUNED_AT: "2026-11-24T00:00:00Z"}
    clock[0] = "2026-11-24T00:00:59Z"
    assert loop.sync_once().pruned == []
    clock[0] = "2026-11-24T00:01:00Z"
    assert loop.sync_once().pruned == ["p-t001-002"]
    assert "p-t001-002" not in fake.objects


def test_a_line_restored_within_the_grace_period_keeps_the_same_task(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    fake.objects["p-t001-002"]["spec"]["timeoutSeconds"] = 60  # set by a person
    original = plan.read_bytes()
    plan.write_bytes(b"- [ ] T001.001 One\n")
    assert loop.sync_once().marked == ["p-t001-002"]
    plan.write_bytes(original)
    report = loop.sync_once()
    assert report.restored == ["p-t001-002"] and report.pruned == []
    task = fake.objects["p-t001-002"]
    assert "suspend" not in task["spec"] and "annotations" not in task["metadata"]
    assert task["spec"]["timeoutSeconds"] == 60


def test_a_file_cut_down_to_a_heading_holds_the_prune_and_says_what_to_do(
    plan: Path,
) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    plan.write_bytes(b"# just a heading\n")
    report = loop.sync_once()
    assert report.held is not None and report.marked == [] and report.pruned == []
    assert fake.marked == []
    assert fake.plan is not None
    (held,) = fake.plan["status"]["conditions"]
    assert held["type"] == "PruneHeld" and held["status"] == "True"
    assert "--allow-mass-prune" in held["message"] and ALLOW in held["message"]
    assert [reason for reason, _ in fake.events] == ["MassPruneHeld"]
    loop.sync_once()
    assert len(fake.events) == 1  # one Event per held prune, not one per sync
    fake.plan["metadata"]["annotations"] = {ALLOW: "true"}
    report = loop.sync_once()
    assert report.marked == ["p-t001-001", "p-t001-002"]
    assert ALLOW not in fake.plan["metadata"]["annotations"]  # allowed once
    assert fake.plan["status"]["conditions"][0]["status"] == "False"


def test_more_than_half_is_held_and_the_flag_allows_the_first_sync_only(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    lines = [f"- [ ] T001.00{i} Task {i}\n" for i in range(1, 5)]
    path.write_text("".join(lines))
    fake = FakeCluster()
    make(path, fake).sync_once()
    path.write_text(lines[0])  # three of four leave
    assert make(path, fake).sync_once().held is not None
    flagged = make(path, fake, allow_mass_prune=True)
    assert flagged.sync_once().marked == ["p-t001-002", "p-t001-003", "p-t001-004"]
    path.write_text("")  # an empty file is skipped, as before
    assert flagged.sync_once().skipped
    path.write_text("- [ ] T001.009 New\n")  # the only unmarked task leaves: all of it
    assert flagged.sync_once().held is not None


def test_empty_file_prunes_nothing(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    plan.write_bytes(b"")
    report = loop.sync_once()
    assert report.skipped and report.pruned == []
    assert len(fake.objects) == 2


def test_api_down_is_a_failed_sync_and_the_next_one_catches_up(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    fake.down = True
    assert loop.sync_guarded() == "failed"
    assert not loop.metrics.ready
    assert loop.metrics.errors.labels("api")._value.get() == 1
    fake.down = False
    assert loop.sync_guarded() == "ok"
    assert loop.metrics.ready and len(fake.objects) == 2


def test_missing_file_is_explained_and_creates_no_plan(tmp_path: Path) -> None:
    fake = FakeCluster()
    loop = make(tmp_path / "nope.md", fake)
    assert loop.sync_guarded() == "failed"
    assert loop.metrics.errors.labels("read")._value.get() == 1
    assert fake.plan is None
    message = sidecar.explain(FileNotFoundError(2, "No such file", str(tmp_path / "nope.md")))
    assert "does not exist" in message and "left as they are" in message


def test_a_file_that_keeps_changing_is_busy_not_failed(plan: Path) -> None:
    class Racing(sidecar.FileSource):
        def write(self, expected: bytes, new: bytes, message: str) -> None:
            raise textfile.FileChanged("someone is typing")

    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    fake.phase("p-t001-001", "Succeeded")
    loop.source = Racing(plan)
    assert loop.sync_guarded() == "busy"
    assert loop.metrics.syncs.labels("failed")._value.get() == 0
    assert loop.metrics.file_races._value.get() == sidecar.WRITE_ATTEMPTS


def test_commit_message_names_the_tasks() -> None:
    from agent_sync.writeback import WriteBack

    message = sidecar.commit_message(
        WriteBack(ticks=frozenset({"T001.002", "T001.001"}), statuses={"T001.003": "Running"})
    )
    assert message.startswith("agent-sync: tick T001.001, T001.002 (Succeeded)")
    assert "T001.003 Running" in message


def test_a_deleted_plan_is_created_again_with_its_tasks(plan: Path) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    fake.plan = None  # a person deleted the plan; the garbage collector took its tasks
    fake.objects.clear()
    loop.sync_once()
    assert fake.plan is not None
    assert len(fake.objects) == 2


def test_an_unchanged_file_is_not_parsed_again(plan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_sync import markdown

    calls = []
    real = markdown.parse
    monkeypatch.setattr(markdown, "parse", lambda *a: calls.append(1) or real(*a))
    loop = make(plan, FakeCluster())
    loop.sync_once()
    loop.sync_once()
    assert len(calls) == 1
    plan.write_bytes(plan.read_bytes() + b"- [ ] T001.003 Three\n")
    loop.sync_once()
    assert len(calls) == 2


def test_leadership_is_checked_again_before_each_batch_of_writes(plan: Path) -> None:
    """A replica whose Lease lapsed between renewals writes nothing, and syncs again once it
    holds the Lease."""
    fake = FakeCluster()
    leading = [True]
    loop = make(plan, fake)
    loop.may_write = lambda: leading[0]
    assert loop.sync_guarded() == "ok"
    applied = list(fake.applies)
    plan.write_bytes(plan.read_bytes() + b"- [ ] T001.003 Three\r\n")
    leading[0] = False
    assert loop.sync_guarded() == "standby"
    assert fake.applies == applied
    leading[0] = True
    assert loop.sync_guarded() == "ok"
    assert "p-t001-003" in fake.applies[len(applied):]


def test_a_file_above_the_maximum_size_is_refused_and_nothing_pruned(
    plan: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    loop.sync_once()
    plan.write_bytes(b"- [ ] T001.001 One\n" + b" " * textfile.MAX_FILE_BYTES)
    with caplog.at_level("ERROR"):
        assert loop.sync_guarded() == "failed"
    assert len(fake.objects) == 2 and fake.deleted == []
    assert loop.metrics.errors.labels("read")._value.get() == 1
    assert "more than the maximum of 16,777,216" in caplog.text
    assert "no task is applied or pruned" in caplog.text
    plan.write_bytes(b"- [ ] T001.001 One\n")
    # Read again: the missing line's task starts its prune grace period (suspended).
    assert loop.sync_guarded() == "ok" and fake.deleted == []
    assert fake.objects["p-t001-002"]["spec"]["suspend"] is True


def test_nul_bytes_invalid_utf8_and_a_megabyte_line_are_reported_and_synced(
    plan: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeCluster()
    loop = make(plan, fake)
    plan.write_bytes(
        b"# Plan\n- [ ] T001.001 One\n"
        b"- [ ] T001.002 Two \x00 with a NUL\n"
        b"- [ ] T001.003 Three \xff\xfe not UTF-8\n"
        b"- [ ] T001.004 Four " + b"w " * 500_000 + b"\n"
        b"- [ ] T001.005 Five\n"
    )
    with caplog.at_level("WARNING"):
        assert loop.sync_guarded() == "ok"
    assert sorted(fake.objects) == [f"p-t001-00{i}" for i in range(1, 6)]
    assert "line 3: the file holds 1 NUL character" in caplog.text
    assert "line 4: the file is not valid UTF-8" in caplog.text
    assert "line 5 is 1,000,020 characters long" in caplog.text


def test_a_missing_namespace_is_named_not_reported_as_missing_crds() -> None:
    from agent_sync.cluster import describe
    from kubernetes.client.exceptions import ApiException

    error = ApiException(status=404, reason="Not Found")
    error.body = (
        '{"kind":"Status","status":"Failure","message":"namespaces \\"team-x\\" not found",'
        '"reason":"NotFound","details":{"name":"team-x","kind":"namespaces"},"code":404}'
    )
    assert describe(error) == (
        "the namespace team-x does not exist: create it (kubectl create namespace team-x) "
        "or fix --namespace / AGENT_SYNC_NAMESPACE"
    )
    crd_missing = ApiException(status=404, reason="Not Found")
    crd_missing.body = '{"kind":"Status","reason":"NotFound","code":404}'
    assert "install the CRDs" in describe(crd_missing)


def test_readyz_after_a_failure_that_followed_successes_says_so(plan: Path) -> None:
    from agent_sync import metrics

    fake = FakeCluster()
    loop = make(plan, fake)
    assert metrics.not_ready_text(loop.metrics) == b"no successful sync yet\n"
    assert loop.sync_guarded() == "ok"
    fake.down = True
    assert loop.sync_guarded() == "failed"
    assert b"the last sync failed" in metrics.not_ready_text(loop.metrics)
