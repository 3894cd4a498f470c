"""The operator image under the chart's own pod: agent-operator and agent-sync start, and a
bad setting ends in a message that names it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.container.conftest import REPO, Images, Podman

pytestmark = pytest.mark.container

CHART = REPO / "charts" / "agent-orchestrator"



def _chart_pod(helm: Path, images: Images, name: str) -> dict[str, Any]:
    """The operator's pod as the chart renders it, with the sync sidecar's container (its
    own Deployment in the chart) beside it, so that one podman pod runs both."""
    repository, _, tag = images.operator.rpartition(":")
    rendered = subprocess.run(
        [
            str(helm), "template", "ao", str(CHART), "--namespace", "agents",
            "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
            "--set", "syncSidecar.enabled=true", "--set", "syncSidecar.plan=sample",
            "--set", "syncSidecar.file=/plans/plan.md",
        ],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    deployments = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"
    }
    deployment = deployments["ao-agent-orchestrator"]
    sync_spec = deployments["ao-agent-orchestrator-sync"]["spec"]["template"]["spec"]
    spec = deployment["spec"]["template"]["spec"]
    spec["containers"] = [*spec["containers"], *sync_spec["containers"]]
    names = {v["name"] for v in spec.get("volumes", [])}
    spec["volumes"] = [
        *spec.get("volumes", []), *(v for v in sync_spec.get("volumes", []) if v["name"] not in names)
    ]
    # No API server and no network here: the service account, probes and ports have
    # nothing to talk to; nothing else of the pod changes.
    spec.pop("serviceAccountName", None)
    for container in spec["containers"]:
        for key in ("livenessProbe", "readinessProbe", "ports"):
            container.pop(key, None)
    spec["restartPolicy"] = "Never"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def test_the_programs_run_under_the_charts_security_context(
    podman: Podman, images: Images, helm: Path, tmp_path: Path, pod_name: str
) -> None:
    pod = _chart_pod(helm, images, pod_name)
    operator, sync = _container(pod, "operator"), _container(pod, "sync")
    assert operator["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    # Four containers of the same pod, each one program in one situation.
    bad_operator = {**operator, "name": "operator-bad-setting"}
    bad_operator["env"] = [
        e for e in bad_operator["env"] if e["name"] != "AGENT_OPERATOR_MAX_CONCURRENT"
    ] + [{"name": "AGENT_OPERATOR_MAX_CONCURRENT", "value": "lots"}]
    bad_sync = {**sync, "name": "sync-bad-setting"}
    bad_sync["env"] = [*sync["env"], {"name": "AGENT_SYNC_MAX_WAIT_SECONDS", "value": "0"}]
    pod["spec"]["containers"] = [
        {**operator, "args": ["agent-operator", "--help"]},
        {**sync, "args": ["agent-sync", "--help"]},
        bad_operator,
        bad_sync,
    ]
    pod["spec"]["containers"].append(
        {**operator, "name": "whoami", "args": ["sh", "-c", "id -u; touch /opt/x 2>/dev/null || echo read-only"]}
    )
    # POD_NAME comes from the downward API, which podman does not offer.
    for container in pod["spec"]["containers"]:
        container["env"] = [e for e in container.get("env", []) if "valueFrom" not in e]
    with podman.play(pod, network="none", workdir=tmp_path) as played:
        ended = played.wait(timeout=180)

    assert ended["operator"].exit_code == 0, ended["operator"].logs
    assert "usage: agent-operator" in ended["operator"].logs
    assert ended["sync"].exit_code == 0, ended["sync"].logs
    assert "usage: agent-sync" in ended["sync"].logs
    assert ended["operator-bad-setting"].exit_code != 0
    assert "AGENT_OPERATOR_MAX_CONCURRENT" in ended["operator-bad-setting"].logs
    assert ended["sync-bad-setting"].exit_code != 0
    assert "AGENT_SYNC_MAX_WAIT_SECONDS" in ended["sync-bad-setting"].logs
    assert ended["whoami"].logs.split() == ["10001", "read-only"]


def test_the_image_has_no_compilers_and_oci_labels(podman: Podman, images: Images) -> None:
    config = podman("image", "inspect", images.operator).stdout
    for key in ("source", "version", "revision"):
        assert f'"org.opencontainers.image.{key}"' in config, key
    found = podman(
        "run", "--rm", "--network=none", "--entrypoint", "sh", images.operator, "-c",
        "for c in gcc cc g++ make; do command -v $c; done; true",
    ).stdout
    assert found.strip() == ""
