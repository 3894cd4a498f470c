"""The chart's alerts, as the chart renders them, under `promtool test rules`.

The rules are taken from `helm template` (not copied), so the tests check what ships; the
cases are in alert_rules_test.yaml beside this file. Each alert must have a case where it
fires and one where it stays quiet, and the reasons the alerts single out must be the
ones agent_api.failures defines.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_api import failures

from tests.chart.conftest import CHART

CASES = Path(__file__).with_name("alert_rules_test.yaml")


def render_rules(helm: Path, *values: str) -> dict[str, Any]:
    """The rule groups of the chart's PrometheusRule, as a Prometheus rule file."""
    sets = [arg for value in ("metrics.prometheusRule.enabled=true", *values)
            for arg in ("--set", value)]
    rendered = subprocess.run(
        [str(helm), "template", "agent-orchestrator", str(CHART),
         "--namespace", "agent-orchestrator", *sets,
         "--show-only", "templates/prometheusrule.yaml"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    rule = yaml.safe_load(rendered)
    assert rule["kind"] == "PrometheusRule"
    return {"groups": rule["spec"]["groups"]}


def alerts(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rules["groups"] for r in group["rules"] if "alert" in r}


def promtool_test(promtool: Path, folder: Path, rules: dict[str, Any],
                  cases: str) -> subprocess.CompletedProcess[str]:
    """Runs the cases against the rules, written side by side as the cases file expects."""
    (folder / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (folder / "cases.yaml").write_text(cases)
    return subprocess.run(
        [str(promtool), "test", "rules", "cases.yaml"],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def rules(helm: Path) -> dict[str, Any]:
    return render_rules(helm)


def test_the_rendered_rules_are_valid(promtool: Path, rules: dict[str, Any],
                                      tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    checked = subprocess.run([str(promtool), "check", "rules", "rules.yaml"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts(rules))} rules found" in checked.stdout


def test_every_alert_fires_where_it_should_and_only_there(
    promtool: Path, rules: dict[str, Any], tmp_path: Path
) -> None:
    assert yaml.safe_load(CASES.read_text())["rule_files"] == ["rules.yaml"]
    result = promtool_test(promtool, tmp_path, rules, CASES.read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case(rules: dict[str, Any]) -> None:
    cases = yaml.safe_load(CASES.read_text())
    firing, quiet = set(), set()
    for case in cases["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = set(alerts(rules))
    assert names - firing == set(), "alerts with no case where they fire"
    assert names - quiet == set(), "alerts with no case where they stay quiet"
    assert (firing | quiet) - names == set(), "cases of alerts the chart does not have"


def test_promtool_fails_a_case_that_does_not_hold(
    promtool: Path, rules: dict[str, Any], tmp_path: Path
) -> None:
    """The harness is not vacuous: an expected alert that is left out fails the run."""
    cases = yaml.safe_load(CASES.read_text())
    check = next(c for case in cases["tests"] for c in case["alert_rule_test"]
                 if c["alertname"] == "AgentAttemptsNotStarting" and c.get("exp_alerts"))
    check["exp_alerts"] = check["exp_alerts"][:1]
    result = promtool_test(promtool, tmp_path, rules, yaml.safe_dump(cases, sort_keys=False))
    assert result.returncode != 0
    assert "AgentAttemptsNotStarting" in result.stdout + result.stderr


def reasons_in(expr: str, operator: str) -> set[str]:
    match = re.search(rf'reason{re.escape(operator)}"([^"]+)"', expr)
    assert match, f"no reason{operator} in {expr}"
    return set(match.group(1).split("|"))


def test_the_alerts_single_out_the_taxonomys_reasons(rules: dict[str, Any]) -> None:
    by_name = alerts(rules)
    assert reasons_in(by_name["AgentAttemptsNotStarting"]["expr"], "=~") == failures.NOT_STARTED
    left_out = reasons_in(by_name["AgentTasksFailing"]["expr"], "!~")
    assert left_out == failures.NOT_STARTED | failures.NOT_THE_AGENTS
    # The agent's own failures, the new ones included, count.
    assert not left_out & {failures.OUT_OF_MEMORY, failures.NO_WORK, failures.VERIFY_FAILED}


def test_the_thresholds_come_from_the_values(helm: Path) -> None:
    by_name = alerts(render_rules(helm, "metrics.prometheusRule.notStartedAttempts=7",
                                  "metrics.prometheusRule.noProgressMinutes=90"))
    not_starting = by_name["AgentAttemptsNotStarting"]
    assert not_starting["expr"].strip().endswith(">= 7")
    assert "At least 7 attempts" in not_starting["annotations"]["description"]
    no_progress = by_name["AgentPlanNoProgress"]["expr"]
    assert "offset 90m" in no_progress and "[90m]" in no_progress
