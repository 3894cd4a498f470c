"""The dashboard image under the chart's own pod: agent-dashboard and agentctl start as the
chart's user on a read-only root, with the page's JavaScript inside the package."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.container.conftest import REPO, Images, Podman

pytestmark = pytest.mark.container

CHART = REPO / "charts" / "agent-orchestrator"



def _dashboard_pod(helm: Path, images: Images, name: str) -> dict[str, Any]:
    """The dashboard Deployment's pod as the chart renders it, minus what needs a cluster."""
    repository, _, tag = images.dashboard.rpartition(":")
    rendered = subprocess.run(
        [
            str(helm), "template", "ao", str(CHART), "--namespace", "agents",
            "--set", "dashboard.enabled=true",
            "--set", f"dashboard.image.repository={repository}",
            "--set", f"dashboard.image.tag={tag}",
        ],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    deployment = next(
        d for d in yaml.safe_load_all(rendered)
        if d and d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-dashboard")
    )
    spec = deployment["spec"]["template"]["spec"]
    spec.pop("serviceAccountName", None)
    for container in spec["containers"]:
        for key in ("livenessProbe", "readinessProbe", "ports"):
            container.pop(key, None)
        container["env"] = [e for e in container.get("env", []) if "valueFrom" not in e]
    spec["restartPolicy"] = "Never"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def test_the_programs_and_the_page_are_in_the_image_under_the_charts_pod(
    podman: Podman, images: Images, helm: Path, tmp_path: Path, pod_name: str
) -> None:
    pod = _dashboard_pod(helm, images, pod_name)
    (dashboard,) = pod["spec"]["containers"]
    assert dashboard["image"] == images.dashboard
    assert dashboard["securityContext"]["readOnlyRootFilesystem"] is True
    page = (
        "import importlib.resources as r; "
        "s = r.files('agent_console') / 'static'; "
        "print((s / 'index.html').is_file(), (s / 'vendor' / 'vue.global.prod.js').is_file())"
    )
    pod["spec"]["containers"] = [
        {**dashboard, "name": "dashboard", "command": None, "args": ["agent-dashboard", "--help"]},
        {**dashboard, "name": "agentctl", "command": None, "args": ["agentctl", "--help"]},
        {**dashboard, "name": "page", "command": None, "args": ["python3", "-c", page]},
        {**dashboard, "name": "whoami", "command": None,
         "args": ["sh", "-c", "id -u; touch /opt/x 2>/dev/null || echo read-only"]},
    ]
    for container in pod["spec"]["containers"]:
        if container["command"] is None:
            del container["command"]
    with podman.play(pod, network="none", workdir=tmp_path) as played:
        ended = played.wait(timeout=180)

    assert ended["dashboard"].exit_code == 0, ended["dashboard"].logs
    assert "usage: agent-dashboard" in ended["dashboard"].logs
    assert ended["agentctl"].exit_code == 0, ended["agentctl"].logs
    assert "usage: agentctl" in ended["agentctl"].logs
    assert ended["page"].logs.split() == ["True", "True"], ended["page"].logs
    assert ended["whoami"].logs.split() == ["10001", "read-only"]


def test_the_image_has_oci_labels(podman: Podman, images: Images) -> None:
    config = podman("image", "inspect", images.dashboard).stdout
    for key in ("source", "version", "revision", "title"):
        assert f'"org.opencontainers.image.{key}"' in config, key
