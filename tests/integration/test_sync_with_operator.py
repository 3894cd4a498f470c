"""The sync sidecar and the operator together on the real control plane.

What is real: the API server, the operator as its console script, Jobs whose pods kwok
completes, the sidecar (in this process, as in test_sync_sidecar.py) on a real file.
Nothing is simulated: the phases are the operator's own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_operator import (  # noqa: F401  (fixtures used by name)
    Operator,
    condition,
    jobs_by_name,
    ns,
    operators,
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
