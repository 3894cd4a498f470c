"""The sync sidecar and the operator together on the real control plane.

What is real: the API server, the operator as its console script, Jobs whose pods kwok
completes, the sidecar (in this process, as in test_sync_sidecar.py) on a real file.
Nothing is simulated: the phases are the operator's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import kubectl
from tests.integration.test_operator import (  # noqa: F401  (fixtures used by name)
    Operator,
    apply,
    condition,
    jobs_by_name,
    ns,
    operators,
    phases,
    profile,
    stages,
    tasks_by_id,
    wait_for,
)
from tests.integration.test_sync_sidecar import running, settings_for

pytestmark = pytest.mark.integration

PLAN_TEXT = """# Plan

## T001 Work
- [ ] T001.001 Write the parser
- [ ] T001.002 Test the parser, after T001.001
- [ ] T001.003 Review the design
  blocked by: a design review
"""


def test_an_agents_success_stays_a_success_and_an_untick_runs_it_again(
    cluster: Path, ns: str, operators: Callable[..., Operator], tmp_path: Path  # noqa: F811
) -> None:
    path = tmp_path / "plan.md"
    path.write_text(PLAN_TEXT)
    operators(ns)
    with running(settings_for(cluster, ns, path)):
        wait_for(
            "both agent tasks ticked",
            lambda: "- [x] T001.001" in path.read_text() and "- [x] T001.002" in path.read_text(),
        )
        # a person ticks the gated task, which never ran: that is "marked done"
        path.write_text(path.read_text().replace("- [ ] T001.003", "- [x] T001.003"))
        wait_for(
            "T001.003 marked done",
            lambda: condition(tasks_by_id(ns)["T001.003"], "Succeeded").get("reason")
            == "MarkedDone",
        )
        found = tasks_by_id(ns)
        for task_id in ("T001.001", "T001.002"):
            task = found[task_id]
            status = task["status"]
            assert task["spec"]["done"] is False, task_id
            assert status["phase"] == "Succeeded", task_id
            assert condition(task, "Succeeded")["reason"] == "AttemptSucceeded", task_id
            assert status["attempts"] == 1 and status["history"][-1]["outcome"] == "Succeeded"
            assert "marked done" not in status["message"], task_id
            assert status["result"]["summary"], task_id
        assert found["T001.003"]["spec"]["done"] is True
        assert found["T001.003"]["status"].get("attempts", 0) == 0

        # a person unticks an agent's success: it runs again and is ticked again
        path.write_text(path.read_text().replace("- [x] T001.002", "- [ ] T001.002"))
        wait_for("a second attempt", lambda: "payments-t001-002-2" in jobs_by_name(ns))
        wait_for("T001.002 ticked again", lambda: "- [x] T001.002" in path.read_text())
        again = tasks_by_id(ns)["T001.002"]
        assert again["spec"]["done"] is False
        assert condition(again, "Succeeded")["reason"] == "AttemptSucceeded"
        assert [r["outcome"] for r in again["status"]["history"]] == ["Succeeded", "Succeeded"]
        assert "payments-t001-001-2" not in jobs_by_name(ns)  # the other one did not rerun


PRUNE_TEXT = """# Plan

- [ ] T001.001 Slow migration of the ledger
- [ ] T001.002 Quick fix two
- [ ] T001.003 Quick fix three
- [ ] T001.004 Quick fix four
"""


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def test_prunes_are_held_when_massive_and_suspend_first_and_a_restored_line_keeps_the_task(
    cluster: Path, ns: str, operators: Callable[..., Operator], tmp_path: Path  # noqa: F811
) -> None:
    apply(profile(ns, "hang", outcome="hang", match="slow"))
    path = tmp_path / "plan.md"
    path.write_text(PRUNE_TEXT)
    operators(ns)
    with running(settings_for(cluster, ns, path, prune_grace_seconds=600)):
        wait_for("the slow task running", lambda: phases(ns).get("T001.001") == "Running")
        wait_for("the quick ones done", lambda: "- [x] T001.004" in path.read_text())
        first = tasks_by_id(ns)["T001.001"]
        kubectl("-n", ns, "patch", "agenttask", "payments-t001-001", "--type=merge",
                "-p", '{"spec":{"timeoutSeconds":999}}')  # set by a person

        # a bad save: the whole plan would go; held, with a condition and an Event
        before = path.read_text()
        path.write_text("# just a heading\n")
        wait_for("PruneHeld",
                 lambda: condition(plan_object(ns), "PruneHeld").get("status") == "True")
        held = condition(plan_object(ns), "PruneHeld")
        assert "--allow-mass-prune" in held["message"]
        assert "orchestration.coditect.ai/allow-mass-prune" in held["message"]
        events = json.loads(kubectl("-n", ns, "get", "events", "-o", "json").stdout)["items"]
        assert any(e["reason"] == "MassPruneHeld" for e in events)
        assert len(tasks_by_id(ns)) == 4 and "payments-t001-001-1" in jobs_by_name(ns)
        assert not tasks_by_id(ns)["T001.001"]["spec"].get("suspend")
        path.write_text(before)
        wait_for("PruneHeld cleared",
                 lambda: condition(plan_object(ns), "PruneHeld").get("status") == "False")

        # one line leaves: its running task is suspended first (its Job cancelled), kept
        path.write_text(without_line(before, "T001.001"))
        wait_for("T001.001 suspended",
                 lambda: tasks_by_id(ns)["T001.001"]["spec"].get("suspend") is True)
        assert "orchestration.coditect.ai/pruned-at" in annotations(tasks_by_id(ns)["T001.001"])
        wait_for("its Job cancelled", lambda: "payments-t001-001-1" not in jobs_by_name(ns))
        wait_for("the attempt recorded as Cancelled",
                 lambda: tasks_by_id(ns)["T001.001"]["status"]["history"][-1]["outcome"]
                 == "Cancelled")

        # the line comes back within the grace period: the same object, as people left it
        path.write_text(before)
        wait_for("T001.001 released",
                 lambda: not tasks_by_id(ns)["T001.001"]["spec"].get("suspend"))
        back = tasks_by_id(ns)["T001.001"]
        assert back["metadata"]["uid"] == first["metadata"]["uid"]
        assert "orchestration.coditect.ai/pruned-at" not in annotations(back)
        assert back["spec"]["timeoutSeconds"] == 999
        wait_for("a new attempt", lambda: "payments-t001-001-2" in jobs_by_name(ns))

    # with a short grace period, a line that stays gone is deleted after it
    with running(settings_for(cluster, ns, path, prune_grace_seconds=1)):
        path.write_text(without_line(path.read_text(), "T001.004"))
        wait_for("T001.004 pruned", lambda: "T001.004" not in tasks_by_id(ns), timeout=60)
        assert len(tasks_by_id(ns)) == 3


def without_line(text: str, task_id: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if task_id not in line)


def plan_object(namespace: str) -> dict[str, Any]:
    answer = kubectl("-n", namespace, "get", "agentplan", "payments", "-o", "json")
    return dict(json.loads(answer.stdout))
