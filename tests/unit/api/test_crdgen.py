"""The CRD schemas generated from the pydantic models are structural and fresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_api import crdgen, models
from pydantic import ValidationError


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node with its path."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for name, child in node.get("properties", {}).items():
            found += walk(child, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            found += walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found += walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("kind", models.KINDS, ids=lambda k: k.kind_name)
def test_schema_is_structural(kind: type[models.Resource]) -> None:
    for path, node in walk(crdgen.openapi_schema(kind)):
        assert "$ref" not in node and "anyOf" not in node and "allOf" not in node, path
        assert "title" not in node, path
        assert node.get("additionalProperties") is not False, path
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path
        assert not node.get("x-kubernetes-preserve-unknown-fields"), path


@pytest.mark.parametrize("kind", models.KINDS, ids=lambda k: k.kind_name)
def test_status_carries_no_defaults(kind: type[models.Resource]) -> None:
    status = crdgen.openapi_schema(kind)["properties"]["status"]
    assert all("default" not in node for _, node in walk(status))


def test_task_schema_rules() -> None:
    schema = crdgen.openapi_schema(models.AgentTask)
    spec = schema["properties"]["spec"]
    assert schema["required"] == ["spec"]
    assert sorted(spec["required"]) == ["taskId", "title"]
    assert spec["properties"]["priority"]["enum"] == ["P0", "P1", "P2", "P3"]
    assert spec["properties"]["priority"]["default"] == "P2"
    assert (
        spec["properties"]["maxRetries"]["minimum"],
        spec["properties"]["maxRetries"]["maximum"],
    ) == (0, 20)
    assert spec["properties"]["timeoutSeconds"]["minimum"] == 1
    assert spec["properties"]["dependsOn"]["x-kubernetes-list-type"] == "set"
    rules = [v["rule"] for v in spec["x-kubernetes-validations"]]
    assert any("self.taskId in self.dependsOn" in r for r in rules)
    conditions = schema["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]


def test_a_profiles_rule_is_checked_as_re2_by_the_api_server() -> None:
    schema = crdgen.openapi_schema(models.AgentProfile)
    match = schema["properties"]["spec"]["properties"]["match"]
    assert match["type"] == "string" and match["maxLength"] == 4096
    (rule,) = match["x-kubernetes-validations"]
    assert rule == models.MATCH_IS_RE2 and "matches(self)" in rule["rule"]
    columns = {c["name"]: c["jsonPath"] for c in models.AgentProfile.printer_columns}
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'


def test_nested_objects_are_defaulted_so_the_server_fills_them() -> None:
    spec = crdgen.openapi_schema(models.AgentPlan)["properties"]["spec"]["properties"]
    assert spec["circuitBreaker"]["default"] == {}
    # Objects with CEL rules or required fields carry their full default instead of {}.
    assert spec["retry"]["default"] == models.RetryPolicy().to_api()
    assert spec["apiKeySecret"]["default"] == {
        "name": "anthropic-api-key",
        "key": "ANTHROPIC_API_KEY",
    }
    assert spec["retry"]["properties"]["maxRetries"]["default"] == 3
    assert spec["circuitBreaker"]["properties"]["consecutiveFailures"]["default"] == 5
    assert spec["maxConcurrent"]["minimum"] == 1


def test_every_kind_has_category_status_and_columns() -> None:
    for kind in models.KINDS:
        crd = crdgen.crd(kind)
        assert crd["spec"]["names"]["categories"] == ["agents"]
        version = crd["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        assert version["additionalPrinterColumns"][-1]["name"] in {"Age", "Message"}


def test_check_reports_stale_and_missing_files(tmp_path: Path) -> None:
    assert crdgen.main([str(tmp_path)]) == 0
    assert crdgen.check(tmp_path) == []
    target = tmp_path / "agenttasks.yaml"
    target.write_text(target.read_text().replace("maxItems: 256", "maxItems: 7"))
    (tmp_path / "agentplans.yaml").unlink()
    problems = crdgen.check(tmp_path)
    assert len(problems) == 2
    assert crdgen.main(["--check", str(tmp_path)]) == 1


def test_committed_crds_are_fresh() -> None:
    repo = Path(__file__).resolve().parents[3]
    assert crdgen.check(repo / "crds") == [], "run `make generate`"


def test_models_refuse_unknown_fields_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="color"):
        models.AgentTaskSpec.model_validate({"taskId": "T1", "title": "x", "color": "blue"})
    with pytest.raises(ValidationError, match="priority"):
        models.AgentTaskSpec(task_id="T1", title="x", priority="P9")  # type: ignore[arg-type]
    spec = models.AgentTaskSpec(task_id="T001.001", title="x", depends_on=["T001.000"])
    assert spec.to_api() == {
        "taskId": "T001.001",
        "title": "x",
        "description": "",
        "priority": "P2",
        "dependsOn": ["T001.000"],
        "gates": [],
        "done": False,
        "timeoutSeconds": 7200,
        "suspend": False,
        "verify": [],
        "budget": {},
    }
    with pytest.raises(ValidationError, match="maxCostUSD"):
        models.TaskBudget.model_validate({"maxCostUSD": 0})
    with pytest.raises(ValidationError, match="maxCostUsd"):
        models.PlanBudget.model_validate({"maxCostUsd": 1})
    assert models.PlanBudget(max_cost_usd=5, daily_cost_usd=1).to_api() == {
        "maxCostUSD": 5.0, "dailyCostUSD": 1.0
    }


def test_plan_defaults_match_the_plan_document() -> None:
    spec = models.AgentPlanSpec()
    assert (spec.retry.max_retries, spec.retry.backoff_base_seconds) == (3, 2)
    assert spec.max_concurrent == 5
    assert spec.api_key_secret.to_api() == {"name": "anthropic-api-key", "key": "ANTHROPIC_API_KEY"}
    assert models.AgentProfileSpec().model != "claude-sonnet-4-5"
