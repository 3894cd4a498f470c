"""The rendered manifests pass checkov (skips only with a reason), and the alerts and
the dashboard query metrics the operator really exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from agent_operator import metrics

from tests.chart.conftest import CHART, REPO


def test_checkov_finds_nothing_beyond_the_reasoned_skips() -> None:
    result = subprocess.run([str(REPO / "hack" / "checkov.sh")], capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"Failed checks: 0\b", result.stdout), result.stdout[-3000:]
    passed = int(re.search(r"Passed checks: (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert passed > 50


def test_every_skipped_check_has_a_reason() -> None:
    lines = (REPO / ".checkov.yaml").read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if re.match(r"\s*- CKV", line)]
    assert skips
    for i in skips:
        assert lines[i - 1].strip().startswith("#") and len(lines[i - 1]) > 20, lines[i]


def exported_metric_names() -> set[str]:
    names = set()
    for metric in metrics.REGISTRY.collect():
        names.add(metric.name)
        for sample in metric.samples:
            names.add(sample.name)
        if metric.type == "counter":
            names.add(metric.name + "_total")
        if metric.type == "histogram":
            names |= {metric.name + s for s in ("_bucket", "_sum", "_count")}
    return names


def queried_metric_names(text: str) -> set[str]:
    return set(re.findall(r"\b(agent_operator_[a-z_]+)", text))


def test_dashboard_and_alerts_use_exported_metrics(helm: Path) -> None:
    exported = exported_metric_names()
    dashboard = json.loads((CHART / "files" / "dashboard.json").read_text())
    assert dashboard["uid"] == "coditect-orchestrator"
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    rendered = subprocess.run(
        [str(helm), "template", "ao", str(CHART), "--set", "metrics.prometheusRule.enabled=true",
         "--show-only", "templates/prometheusrule.yaml"],
        capture_output=True, text=True, check=True).stdout
    rules = yaml.safe_load(rendered)["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} >= {"AgentPlanCircuitOpen", "AgentTasksFailing", "AgentPlanNoProgress"}
    used = queried_metric_names(exprs) | queried_metric_names(" ".join(r["expr"] for r in rules))
    assert used, "no metric queried"
    assert used <= exported, f"not exported by the operator: {sorted(used - exported)}"
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("progress", "running", "latency", "fail", "retries", "circuit", "tokens", "cost"):
        assert topic in titles, topic
