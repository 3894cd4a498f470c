"""`agent-sync diff`: what a sync would change, both ways, from the same pure steps."""

from __future__ import annotations

from typing import Any

from agent_sync import diff
from agent_sync.markdown import parse
from agent_sync.render import task_manifests

TEXT = "# M\n- [ ] T001.001 One\n- [ ] T001.002 Two after T001.001\n- [ ] T001.003 Three\n"


def live_from(text: str, **status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    live = {}
    for manifest in task_manifests(parse(text), plan="p"):
        obj = {**manifest, "metadata": {**manifest["metadata"], "uid": "u"}}
        obj["status"] = status.get(manifest["spec"]["taskId"], {"phase": "Pending"})
        live[manifest["metadata"]["name"]] = obj
    return live


def test_no_difference_when_file_and_cluster_agree() -> None:
    result = diff.compute(parse(TEXT), live_from(TEXT), plan="p", namespace="ns", plan_exists=True)
    assert result.empty
    assert "agree" in diff.format_text(result, "PLAN.md")


def test_both_ways_create_update_prune_and_tick() -> None:
    live = live_from(
        TEXT.replace("Three", "Three\n- [ ] T001.004 Gone"),
        **{"T001.001": {"phase": "Succeeded"}},
    )
    edited = TEXT.replace("Two after", "Two renamed after") + "- [ ] T001.005 New\n"
    result = diff.compute(parse(edited), live, plan="p", namespace="ns", plan_exists=False)
    assert result.plan_missing
    assert result.create == (("p-t001-005", "T001.005"),)
    assert [(u.task_id, u.fields) for u in result.update] == [("T001.002", ("title", "description"))]
    assert result.prune == (("p-t001-004", "T001.004"),)
    assert result.ticks == ((2, "T001.001"),)
    text = diff.format_text(result, "PLAN.md")
    assert "+ create p-t001-005" in text and "- prune  p-t001-004" in text
    assert "[x] tick PLAN.md:2 T001.001" in text
    assert result.to_json()["file"]["tick"] == [{"line": 2, "taskId": "T001.001"}]


def test_an_unticked_success_would_be_rerun() -> None:
    done = TEXT.replace("- [ ] T001.001", "- [x] T001.001")
    live = live_from(done, **{"T001.001": {"phase": "Succeeded"}})
    result = diff.compute(parse(TEXT), live, plan="p", namespace="ns", plan_exists=True)
    assert result.reruns == ((2, "T001.001"),)
    assert [(u.task_id, u.fields) for u in result.update] == [("T001.001", ("done",))]
