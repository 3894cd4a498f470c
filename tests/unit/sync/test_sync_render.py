"""Render: the manifests `run` applies, deterministic, named and labelled as agreed."""

from __future__ import annotations

import yaml
from agent_api import models
from agent_sync.ids import IdPattern, task_object_name
from agent_sync.markdown import parse
from agent_sync.render import plan_manifest, public_url, task_manifests, to_yaml

TEXT = "# T001\n- [ ] T001.002 Second after T001.001 P1\n- [x] T001.001 First\n"


def test_task_manifest_has_only_the_fields_the_markdown_expresses() -> None:
    manifests = task_manifests(parse(TEXT), plan="demo", namespace="team")
    assert [m["metadata"]["name"] for m in manifests] == ["demo-t001-001", "demo-t001-002"]
    second = manifests[1]
    assert second["metadata"] == {
        "name": "demo-t001-002",
        "namespace": "team",
        "labels": {
            models.LABEL_PLAN: "demo",
            models.LABEL_MILESTONE: "t001",
            models.LABEL_TASK_ID: "T001.002",
            models.LABEL_MANAGED_BY: "agent-sync",
        },
    }
    assert second["spec"] == {
        "taskId": "T001.002",
        "title": "Second after T001.001 P1",
        "description": "T001.002 Second after T001.001 P1",
        "priority": "P1",
        "dependsOn": ["T001.001"],
        "gates": [],
        "done": False,
        "plan": "demo",
    }
    assert "ownerReferences" not in second["metadata"]
    models.AgentTask.model_validate(second)  # a valid object of the API


def test_plan_manifest_sets_only_the_source() -> None:
    plan = plan_manifest("demo", path="plans/a.md", pattern=IdPattern.compile())
    assert plan["spec"] == {"source": {"path": "plans/a.md"}}
    custom = plan_manifest(
        "demo", path="a.md", pattern=IdPattern.compile(r"PAY-\d+"),
        git_url="https://user:secret@example.com/team/plans.git", git_branch="trunk",
    )
    assert custom["spec"]["source"] == {
        "path": "a.md",
        "git": {"url": "https://example.com/team/plans.git", "branch": "trunk"},
        "idPattern": r"PAY-\d+",
    }


def test_yaml_is_deterministic_and_round_trips() -> None:
    text = TEXT + "- [ ] T001.003 Unicode ☕ title\n  with a second line\n"
    parsed = parse(text)
    manifests = [plan_manifest("demo", path="p.md", pattern=IdPattern.compile()),
                 *task_manifests(parsed, plan="demo")]
    first = to_yaml(manifests)
    assert first == to_yaml([plan_manifest("demo", path="p.md", pattern=IdPattern.compile()),
                             *task_manifests(parse(text), plan="demo")])
    assert list(yaml.safe_load_all(first)) == manifests
    assert "☕" in first
    assert "description: |-" in first


def test_object_names() -> None:
    assert task_object_name("demo", "T001.009") == "demo-t001-009"
    assert task_object_name("demo", "PAY_12") == "demo-pay-12"
    long_a = task_object_name("a-very-long-plan-name-for-payments", "T" + "1" * 40 + ".001")
    long_b = task_object_name("a-very-long-plan-name-for-payments", "T" + "1" * 40 + ".002")
    assert len(long_a) <= 63 and len(long_b) <= 63
    assert long_a != long_b


def test_public_url_strips_credentials() -> None:
    assert public_url("https://x:tok@host/r.git") == "https://host/r.git"
    assert public_url("file:///tmp/r.git") == "file:///tmp/r.git"


def test_bytes_that_are_not_utf8_reach_the_api_as_replacement_characters() -> None:
    from agent_sync import markdown, render, textfile

    text, problems = textfile.decode(b"- [ ] T001.001 Caf\xe9 blocked by: r\xe9view\n")
    assert [p.line for p in problems] == [1]
    (manifest,) = render.task_manifests(markdown.parse(text), plan="p")
    assert manifest["spec"]["title"] == "Caf\ufffd blocked by: r\ufffdview"
    assert manifest["spec"]["gates"] == ["r\ufffdview"]
    assert textfile.encode(text) == b"- [ ] T001.001 Caf\xe9 blocked by: r\xe9view\n"
