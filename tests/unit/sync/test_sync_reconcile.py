"""Reconcile: apply only what differs, prune only what the sidecar created."""

from __future__ import annotations

from typing import Any

from agent_api import models
from agent_sync import reconcile
from agent_sync.markdown import parse
from agent_sync.render import task_manifests

TEXT = "- [ ] T001.001 One\n- [ ] T001.002 Two after T001.001\n"


def live_from(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Live objects as the API server returns them: defaults filled, status, uid."""
    live = {}
    for manifest in manifests:
        obj = {**manifest, "metadata": {**manifest["metadata"], "uid": "u"}}
        obj["spec"] = {**manifest["spec"], "timeoutSeconds": 7200, "suspend": False}
        obj["status"] = {"phase": "Pending"}
        live[manifest["metadata"]["name"]] = obj
    return live


def test_nothing_to_do_when_the_cluster_agrees() -> None:
    desired = task_manifests(parse(TEXT), plan="p")
    changes = reconcile.changes(desired, live_from(desired), plan="p", held_ids=frozenset())
    assert changes == reconcile.Changes(apply=(), prune=())


def test_only_the_changed_task_is_applied() -> None:
    live = live_from(task_manifests(parse(TEXT), plan="p"))
    desired = task_manifests(parse(TEXT.replace("Two", "Two, P0")), plan="p")
    changes = reconcile.changes(desired, live, plan="p", held_ids=frozenset())
    assert [m["spec"]["taskId"] for m in changes.apply] == ["T001.002"]


def test_prune_only_tasks_the_sidecar_created_and_never_held_ones() -> None:
    live = live_from(task_manifests(parse(TEXT + "- [ ] T001.003 Three\n"), plan="p"))
    live["by-hand"] = {"metadata": {"name": "by-hand", "labels": {models.LABEL_PLAN: "p"}},
                       "spec": {"taskId": "T009.001"}}
    other_plan = live_from(task_manifests(parse("- [ ] T001.004 x\n"), plan="q"))
    live.update(other_plan)
    desired = task_manifests(parse("- [ ] T001.001 One\n"), plan="p")
    changes = reconcile.changes(desired, live, plan="p", held_ids=frozenset({"T001.003"}))
    assert changes.prune == ("p-t001-002",)


def test_observed_reads_done_phase_and_whether_the_phase_is_current() -> None:
    parsed = parse(TEXT)
    live = live_from(task_manifests(parsed, plan="p"))
    live["p-t001-001"]["spec"]["rerun"] = "2026-01-01T00:00:00Z"
    live["p-t001-001"]["status"] = {"phase": "Succeeded"}
    live["p-t001-002"]["status"] = {"phase": "Succeeded"}
    seen = reconcile.observed(parsed, live, plan="p")
    assert seen["T001.001"].current is False
    assert seen["T001.002"].current is True
    assert seen["T001.002"].phase == "Succeeded"


def test_a_ticked_box_of_a_task_an_agent_finished_is_not_spec_done() -> None:
    parsed = parse("- [x] T001.001 One\n- [x] T001.002 Two\n")
    live = live_from(task_manifests(parse(TEXT), plan="p"))
    live["p-t001-001"]["status"] = {
        "phase": "Succeeded",
        "conditions": [{"type": "Succeeded", "status": "True", "reason": "AttemptSucceeded"}],
    }
    live["p-t001-002"]["status"] = {
        "phase": "Succeeded",
        "conditions": [{"type": "Succeeded", "status": "True", "reason": "MarkedDone"}],
    }
    seen = reconcile.observed(parsed, live, plan="p")
    assert reconcile.succeeded_by_a_run(seen) == {"T001.001"}
    desired = task_manifests(parsed, plan="p", succeeded=reconcile.succeeded_by_a_run(seen))
    by_id = {m["spec"]["taskId"]: m for m in desired}
    assert by_id["T001.001"]["spec"]["done"] is False
    assert by_id["T001.002"]["spec"]["done"] is True
    assert all(
        m["metadata"]["annotations"] == {"orchestration.coditect.ai/ticked": "true"}
        for m in desired
    )
    changes = reconcile.changes(desired, live, plan="p", held_ids=frozenset())
    assert len(changes.apply) == 2  # the annotation is new on both
    live = live_from(desired)
    assert reconcile.changes(desired, live, plan="p", held_ids=frozenset()).apply == ()
