"""The release workflow cannot run here (no registry); these checks keep it honest: it
parses, builds the Dockerfiles `make images` builds, and pins the chart it packages to
the digests it pushed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"


def _workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(job: str) -> list[dict[str, Any]]:
    return _workflow()["jobs"][job]["steps"]


def test_it_runs_on_version_tags() -> None:
    # YAML 1.1 reads the key `on` as True.
    assert _workflow()[True] == {"push": {"tags": ["v*"]}}


def test_it_builds_every_dockerfile_for_two_architectures() -> None:
    builds = [s["with"] for s in _steps("images") if "build-push-action" in s.get("uses", "")]
    assert sorted(b["file"] for b in builds) == [
        "console/Dockerfile", "operator/Dockerfile", "runner/Dockerfile"
    ]
    images_sh = (REPO / "hack" / "images.sh").read_text()
    for build in builds:
        assert (REPO / build["file"]).is_file()
        assert f"{build['file']}" in images_sh
        assert build["platforms"] == "linux/amd64,linux/arm64"
        assert build["push"] is True
        assert {"VERSION", "REVISION", "SOURCE"} <= {
            line.split("=")[0] for line in build["build-args"].split()
        }
    outputs = _workflow()["jobs"]["images"]["outputs"]
    assert outputs["operator-digest"] == "${{ steps.operator.outputs.digest }}"
    assert outputs["runner-digest"] == "${{ steps.runner.outputs.digest }}"


def test_it_packages_and_pushes_the_repositorys_chart_as_an_oci_artifact() -> None:
    env = _workflow()["env"]
    assert (REPO / env["CHART_DIR"] / "Chart.yaml").is_file()
    assert env["CHART_REPOSITORY"].startswith("oci://")
    script = "\n".join(s.get("run", "") for s in _steps("chart"))
    assert 'helm package "$CHART_DIR"' in script
    assert 'helm push "dist/agent-orchestrator-' in script and '"$CHART_REPOSITORY"' in script


def test_the_released_values_name_the_images_by_digest(tmp_path: Path) -> None:
    """Runs the workflow's own values step on a copy of the chart."""
    step = next(s for s in _steps("chart") if "digest" in s.get("name", ""))
    program = re.search(r"<<'PY'\n(.*?)\n\s*PY\n", step["run"], re.S)
    assert program is not None
    source = "\n".join(line.removeprefix("          ") for line in program.group(1).splitlines())
    chart = tmp_path / "chart"
    shutil.copytree(REPO / "charts" / "agent-orchestrator", chart)
    digests = {"OPERATOR_DIGEST": "sha256:" + "a" * 64, "RUNNER_DIGEST": "sha256:" + "b" * 64}
    env = {
        **os.environ,
        **digests,
        "CHART_DIR": str(chart),
        "OPERATOR_IMAGE": "ghcr.io/example/agent-orchestrator",
        "RUNNER_IMAGE": "ghcr.io/example/agent-orchestrator-runner",
    }
    subprocess.run(["python3", "-c", source], env=env, check=True, timeout=60)
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert values["image"]["digest"] == digests["OPERATOR_DIGEST"]
    assert values["image"]["repository"] == "ghcr.io/example/agent-orchestrator"
    assert values["runner"]["digest"] == digests["RUNNER_DIGEST"]
    assert values["runner"]["repository"] == "ghcr.io/example/agent-orchestrator-runner"
    original = yaml.safe_load((REPO / "charts" / "agent-orchestrator" / "values.yaml").read_text())
    for key in set(original) - {"image", "runner"}:
        assert values[key] == original[key], key
    helpers = (chart / "templates" / "_helpers.tpl").read_text()
    assert '"%s@%s" .Values.image.repository .Values.image.digest' in helpers
    assert '"%s@%s" .Values.runner.repository .Values.runner.digest' in helpers
