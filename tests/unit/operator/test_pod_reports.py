"""A succeeded attempt's report comes from the pod watch; anything else from the API."""

from __future__ import annotations

import json
from typing import Any

from agent_operator import podreports
from operator_world import World, task


def _pod(phase: str, message: str = "{}", name: str = "t-1-abc") -> dict[str, Any]:
    terminated = {"exitCode": 0 if phase == "Succeeded" else 1, "message": message}
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {podreports.JOB_NAME_LABEL: "t-1"},
        },
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "agent", "state": {"terminated": terminated}}],
        },
    }


def test_only_a_succeeded_pod_leaves_a_report_and_it_is_taken_once() -> None:
    reports = podreports.PodReports()
    assert reports.apply("MODIFIED", _pod("Running")) is False
    assert reports.apply("MODIFIED", _pod("Failed")) is False
    assert reports.apply("MODIFIED", {"metadata": {"name": "x", "labels": {}}}) is False
    assert reports.apply("MODIFIED", _pod("Succeeded", '{"summary": "ok"}')) is True
    assert reports.apply("MODIFIED", _pod("Succeeded", '{"summary": "ok"}')) is False  # known
    report = reports.take("ns", "t-1")
    assert report is not None and report.exit_code == 0 and report.message == '{"summary": "ok"}'
    assert reports.take("ns", "t-1") is None


def test_a_deleted_pod_takes_its_report_along() -> None:
    reports = podreports.PodReports()
    reports.apply("MODIFIED", _pod("Succeeded"))
    reports.apply("DELETED", _pod("Succeeded", name="another-pod"))  # not the one kept
    assert len(reports) == 1
    reports.apply("DELETED", _pod("Succeeded"))
    assert len(reports) == 0 and reports.take("ns", "t-1") is None


def test_a_completed_attempt_watched_succeeding_is_settled_without_reading_its_pods() -> None:
    world = World(task("t"))
    world.step()
    world.finish_job("t-1", message=json.dumps({"status": "succeeded", "summary": "done"}))
    reads = world.cluster.pod_reads
    world.step()
    assert world.phase("t") == "Succeeded" and world.status("t").result.summary == "done"
    assert world.cluster.pod_reads == reads  # the result came from the watch


def test_a_pod_the_watch_has_not_shown_yet_is_read_from_the_api() -> None:
    world = World(task("t"))
    world.step()
    world.finish_job("t-1", message=json.dumps({"status": "succeeded", "summary": "done"}),
                     watched=False)
    reads = world.cluster.pod_reads
    world.step()
    assert world.phase("t") == "Succeeded" and world.status("t").result.summary == "done"
    assert world.cluster.pod_reads == reads + 1  # the report, read from the API


def test_an_unfinished_pod_says_what_keeps_it_until_it_finishes_or_goes() -> None:
    reports = podreports.PodReports()
    assert reports.start_problem("ns", "t-1") == (False, None)
    waiting = _pod("Pending")
    waiting["status"] = {
        "phase": "Pending",
        "containerStatuses": [
            {"name": "agent", "image": "reg/x:1",
             "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}
        ],
    }
    assert reports.apply("MODIFIED", waiting) is True  # a new problem wakes a pass
    assert reports.apply("MODIFIED", waiting) is False  # the same one does not
    seen, problem = reports.start_problem("ns", "t-1")
    assert seen and problem is not None and problem.reason == "ImagePullFailed"
    reports.apply("MODIFIED", _pod("Running"))
    assert reports.start_problem("ns", "t-1") == (True, None)
    reports.apply("MODIFIED", _pod("Succeeded"))
    assert reports.start_problem("ns", "t-1") == (False, None)
    reports.apply("MODIFIED", _pod("Pending"))
    reports.apply("DELETED", _pod("Pending"))
    assert reports.start_problem("ns", "t-1") == (False, None)
