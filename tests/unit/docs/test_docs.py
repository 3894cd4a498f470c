"""Checks that keep the user guide true to the code, the chart and itself.

The guide is read as text and compared with what the code and the chart define:
links must lead to files that exist, and every setting, metric, alert and default
profile the project ships must be documented where a reader looks for it. No cluster,
no network: the sources are imported or parsed from the working tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import yaml
from agent_api import failures
from agent_operator import metrics as operator_metrics
from agent_operator import settings as operator_settings
from agent_runner import settings as runner_settings
from agent_sync import metrics as sync_metrics
from agent_sync import settings as sync_settings

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"
CHART = REPO / "charts" / "agent-orchestrator"
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())

# Keys whose children are data (Kubernetes objects, label sets, the profile list),
# not settings of their own: the key is documented, its contents are not.
DATA_KEYS = frozenset({"resources", "labels", "annotations"})
DATA_PATHS = frozenset({"profiles.items", "networkPolicy.agents.dnsLabels"})

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def guide_pages() -> list[Path]:
    return [*sorted(DOCS.glob("*.md")), REPO / "README.md"]


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def link_targets(text: str) -> Iterator[str]:
    """Link targets in markdown text outside code, URLs (https:, mailto:) left out."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    for target in LINK.findall(prose):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):
            yield target


def relative_links(text: str) -> Iterator[str]:
    """Paths in the repository that the text links to (anchors dropped)."""
    for target in link_targets(text):
        if not target.startswith("#"):
            yield target.split("#", 1)[0]


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces to -."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", FENCE.sub("", text), re.MULTILINE):
        words = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower())
        anchors.add(words.replace(" ", "-"))
    return anchors


def settings_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every settings key in values.yaml, nested ones included."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        path = f"{prefix}{key}"
        yield path
        if key in DATA_KEYS or path in DATA_PATHS:
            continue
        yield from settings_paths(value, f"{path}.")


def exposed_names(registry: prometheus_client.CollectorRegistry) -> list[str]:
    """Metric names as Prometheus scrapes them (counters carry the _total suffix)."""
    names = []
    for family in registry.collect():
        names.append(f"{family.name}_total" if family.type == "counter" else family.name)
    return sorted(names)


# --------------------------------------------------------------------------- links


def test_the_guide_has_its_pages() -> None:
    expected = {
        "README.md", "quick-start.md", "architecture.md", "configuration.md",
        "operations.md", "agent-mappings.md", "dependencies.md", "monitoring.md",
        "troubleshooting.md", "benchmarks.md",
    }
    missing = sorted(name for name in expected if not (DOCS / name).is_file())
    assert not missing, f"pages of the guide missing from docs/: {missing}"


@pytest.mark.parametrize("path", guide_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file(path: Path) -> None:
    broken = [
        target
        for target in relative_links(path.read_text(encoding="utf-8"))
        if target and not (path.parent / target).exists()
    ]
    assert not broken, f"{path.relative_to(REPO)} links to missing files: {broken}"


@pytest.mark.parametrize("path", guide_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_anchor_names_a_heading(path: Path) -> None:
    broken = []
    for target in link_targets(path.read_text(encoding="utf-8")):
        file, _, anchor = target.partition("#")
        destination = (path.parent / file) if file else path
        if not anchor or destination.suffix != ".md" or not destination.is_file():
            continue
        if anchor not in heading_anchors(destination.read_text(encoding="utf-8")):
            broken.append(target)
    assert not broken, f"{path.relative_to(REPO)} links to headings that do not exist: {broken}"


def test_anchors_are_computed_as_github_does() -> None:
    text = "# Sync sidecar settings\n## `agent-sync` lint: codes\n```\n# not a heading\n```\n"
    assert heading_anchors(text) == {"sync-sidecar-settings", "agent-sync-lint-codes"}


def test_link_finder_sees_links_and_skips_code_and_urls() -> None:
    text = (
        "See [ops](operations.md#install) and ![d](img/a.png).\n"
        "[web](https://example.com) [here](#top) `[no](code.md)`\n"
        "```\n[no](fenced.md)\n```\n"
        "- a list item\n  ```sh\n  [no](indented.md)\n  ```\n"
    )
    assert list(relative_links(text)) == ["operations.md", "img/a.png"]


# --------------------------------------------------------------------------- configuration


def test_settings_walker_treats_data_as_data() -> None:
    sample = {"a": {"b": 1, "resources": {"limits": {"cpu": 1}}}, "profiles": {"items": [1]}}
    assert list(settings_paths(sample)) == [
        "a", "a.b", "a.resources", "profiles", "profiles.items",
    ]


@pytest.mark.parametrize("path", sorted(settings_paths(VALUES)))
def test_every_helm_value_is_in_the_configuration_reference(path: str) -> None:
    assert f"`{path}`" in page("configuration.md"), (
        f"values.yaml key {path} is not documented in docs/configuration.md "
        f"(write it as `{path}`)"
    )


@pytest.mark.parametrize("field", sorted(operator_settings.OperatorSettings.model_fields))
def test_every_operator_setting_is_in_the_configuration_reference(field: str) -> None:
    env = f"AGENT_OPERATOR_{field.upper()}"
    flag = f"--{field.replace('_', '-')}"
    text = page("configuration.md")
    assert env in text, f"operator setting {field} ({env}) missing from docs/configuration.md"
    if field != "namespaces":  # its flag is the singular --namespace, repeatable
        assert flag in text, f"operator flag {flag} missing from docs/configuration.md"


@pytest.mark.parametrize("field", sorted(sync_settings.Settings.model_fields))
def test_every_sidecar_setting_is_in_the_configuration_reference(field: str) -> None:
    env = f"AGENT_SYNC_{field.upper()}"
    assert env in page("configuration.md"), (
        f"sync sidecar setting {field} ({env}) missing from docs/configuration.md"
    )


@pytest.mark.parametrize("env", sorted(runner_settings.ENV_NAMES.values()))
def test_every_runner_setting_is_in_the_configuration_reference(env: str) -> None:
    assert env in page("configuration.md"), (
        f"runner setting {env} missing from docs/configuration.md"
    )


# --------------------------------------------------------------------------- monitoring


@pytest.mark.parametrize("name", exposed_names(operator_metrics.REGISTRY))
def test_every_operator_metric_is_in_monitoring(name: str) -> None:
    assert f"`{name}`" in page("monitoring.md"), (
        f"operator metric {name} is not documented in docs/monitoring.md"
    )


@pytest.mark.parametrize("name", exposed_names(sync_metrics.Metrics().registry))
def test_every_sidecar_metric_is_in_monitoring(name: str) -> None:
    assert f"`{name}`" in page("monitoring.md"), (
        f"sync sidecar metric {name} is not documented in docs/monitoring.md"
    )


def test_every_alert_of_the_chart_is_in_monitoring() -> None:
    rules = (CHART / "templates" / "prometheusrule.yaml").read_text()
    alerts = re.findall(r"-\s*alert:\s*(\w+)", rules)
    assert alerts, "no alert found in prometheusrule.yaml: has its layout changed?"
    text = page("monitoring.md")
    missing = [alert for alert in alerts if f"`{alert}`" not in text]
    assert not missing, f"alerts missing from docs/monitoring.md: {missing}"


def failure_reasons() -> list[str]:
    """Every reason of the failure taxonomy (agent_api.failures), the runner's and the
    operator's."""
    return sorted(
        value
        for name, value in vars(failures).items()
        if name.isupper() and isinstance(value, str) and value != failures.SUCCEEDED
    )


@pytest.mark.parametrize("reason", failure_reasons())
@pytest.mark.parametrize("name", ["runner.md", "troubleshooting.md", "monitoring.md"])
def test_every_failure_reason_is_documented(name: str, reason: str) -> None:
    assert f"`{reason}`" in page(name), f"failure reason {reason} missing from docs/{name}"


def test_the_dashboard_uid_in_monitoring_is_the_charts() -> None:
    dashboard = yaml.safe_load((CHART / "files" / "dashboard.json").read_text())
    assert f"`{dashboard['uid']}`" in page("monitoring.md")


# --------------------------------------------------------------------------- agent mappings


@pytest.mark.parametrize("name", [item["name"] for item in VALUES["profiles"]["items"]])
def test_every_default_profile_is_in_agent_mappings(name: str) -> None:
    assert f"`{name}`" in page("agent-mappings.md"), (
        f"default profile {name} (values.yaml profiles.items) missing from "
        "docs/agent-mappings.md"
    )


def test_agent_mappings_shows_each_rule_as_the_chart_defines_it() -> None:
    text = page("agent-mappings.md")
    stale = [
        item["name"]
        for item in VALUES["profiles"]["items"]
        if item["match"] and f"`{item['match']}`" not in text
    ]
    assert not stale, f"rules in docs/agent-mappings.md differ from values.yaml for: {stale}"
