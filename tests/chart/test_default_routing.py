"""The plan's checkpoint "the dispatcher assigns 10 test tasks correctly", on the chart's
default profiles and the operator's own routing (no cluster: the profiles are the
chart's rendered objects, routing is the operator's pure function)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from agent_api import models
from agent_operator import routing

from tests.chart.conftest import CHART

# One task per agent type, worded like the plan's use cases (its reference table).
CASES = [
    ("T001.009", "Deploy the API gateway to the Kubernetes cluster", "devops-engineer"),
    ("T008.001", "Add OAuth login with JWT sessions", "security-specialist"),
    ("T001.010", "Implement the tasks REST endpoint", "backend-development"),
    ("T002.001", "Build the React task board component", "frontend-development-agent"),
    ("T005.001", "Raise unit test coverage of the billing module to 90%", "testing-specialist"),
    ("T007.001", "Write the operator's installation guide", "codi-documentation-writer"),
    ("T001.015", "Cut p99 latency of search in half", "application-performance"),
    ("T003.002", "Write the migration for the ledger schema", "database-architect"),
    ("T004.001", "Model the approval workflow in BPMN", "workflow-automation-specialist"),
    ("T009.001", "Export Prometheus metrics for the queue", "observability-platform"),
    ("T010.001", "Rename the company in the footer text", "general-purpose"),
    # Word boundaries: "ui" inside "guide"/"build", "api" inside "rapid" do not match.
    ("T010.002", "Build a rapid prototype of the pricing page copy", "general-purpose"),
    ("T007.002", "Update the user guide for the quick start", "codi-documentation-writer"),
]


@pytest.fixture(scope="module")
def default_profiles(helm: Path) -> list[models.AgentProfile]:
    rendered = subprocess.run(
        [str(helm), "template", "ao", str(CHART), "--api-versions",
         "orchestration.coditect.ai/v1alpha1", "--show-only", "templates/profiles.yaml"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    return routing.ordered(models.AgentProfile.model_validate(d) for d in docs)


@pytest.mark.parametrize(("task_id", "title", "expected"), CASES, ids=[c[0] for c in CASES])
def test_default_profiles_route_the_plans_use_cases(
    default_profiles: list[models.AgentProfile], task_id: str, title: str, expected: str
) -> None:
    task = models.AgentTaskSpec(task_id=task_id, title=title)
    chosen = routing.route(task, default_profiles, fallback="general-purpose",
                           default_image=models.DEFAULT_RUNNER_IMAGE)
    assert chosen.profile_name == expected, chosen.matched_rule
    assert not chosen.builtin


def test_gate_text_does_not_route_the_sample_plans_database_task_to_security(
    default_profiles: list[models.AgentProfile],
) -> None:
    from agent_sync import markdown

    sample = CHART.parents[1] / "examples" / "plans" / "sample-plan.md"
    parsed = markdown.parse(sample.read_text())
    provision = parsed.by_id()["T002.005"]
    assert provision.gates == ("security review of the network design",)
    assert "blocked by: security review" in provision.description
    task = models.AgentTaskSpec(
        task_id=provision.task_id, title=provision.title, description=provision.description,
        gates=list(provision.gates),
    )
    chosen = routing.route(task, default_profiles, fallback="general-purpose",
                           default_image=models.DEFAULT_RUNNER_IMAGE)
    assert chosen.profile_name == "database-architect", chosen.matched_rule
