"""`make kind-up` needs a container engine that runs kind's node image, which cannot be
pulled on the development machines: what can be checked without one is checked here
(the generated kind config, the commands it would run, shellcheck on the scripts)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = ["build-tools.sh", "container-tools.sh", "demo.sh", "images.sh", "kind.sh", "lock.sh"]


def _kind(*args: str, **env: str) -> str:
    return subprocess.run(
        [str(REPO / "hack" / "kind.sh"), *args],
        env={**os.environ, **env}, check=True, capture_output=True, text=True, timeout=60,
    ).stdout


def _images() -> list[str]:
    return subprocess.run(
        [str(REPO / "hack" / "images.sh"), "--print-names"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()


def test_the_kind_config_is_one_node_cluster_of_the_chosen_name() -> None:
    config = yaml.safe_load(_kind("config", KIND_CLUSTER="ao-check"))
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["name"] == "ao-check"
    assert config["nodes"] == [{"role": "control-plane"}]
    pinned = yaml.safe_load(_kind("config", KIND_NODE_IMAGE="kindest/node:v1.35.0"))
    assert pinned["nodes"] == [{"role": "control-plane", "image": "kindest/node:v1.35.0"}]


@pytest.mark.parametrize("engine", ["podman", "docker"])
def test_up_builds_creates_loads_the_images_and_installs_the_chart(engine: str) -> None:
    commands = [
        line.removeprefix("+ ")
        for line in _kind("up", "--dry-run", AO_CONTAINER_ENGINE=engine).splitlines()
        if line.startswith("+ ")
    ]
    operator, runner, dashboard = _images()
    assert commands[0].endswith("hack/images.sh")
    assert "create cluster --config" in commands[1] and "/.kind/kind-config.yaml" in commands[1]
    loads = [c for c in commands if " load " in c]
    if engine == "docker":
        assert loads == [
            f"{Path(commands[1].split()[0])} load docker-image --name agent-orchestrator {image}"
            for image in (operator, runner, dashboard)
        ]
    else:
        saved = [c for c in commands if c.startswith("podman save")]
        assert [c.split()[-1] for c in saved] == [operator, runner, dashboard]
        assert len(loads) == 3 and all("load image-archive" in c for c in loads)
    helm = commands[-1].split()
    assert helm[1:4] == ["upgrade", "--install", "agent-orchestrator"]
    assert helm[4] == str(REPO / "charts" / "agent-orchestrator")
    sets = {helm[i + 1] for i, word in enumerate(helm) if word == "--set"}
    assert f"image.repository={operator.rsplit(':', 1)[0]}" in sets
    assert f"runner.repository={runner.rsplit(':', 1)[0]}" in sets
    assert f"runner.tag={runner.rsplit(':', 1)[1]}" in sets
    assert f"dashboard.image.repository={dashboard.rsplit(':', 1)[0]}" in sets


def test_down_deletes_the_cluster() -> None:
    commands = _kind("down", "--dry-run").splitlines()
    assert commands[0].endswith("kind delete cluster --name agent-orchestrator")


def test_the_demo_says_what_a_real_run_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "KUBECONFIG")}
    done = subprocess.run(
        [str(REPO / "hack" / "demo.sh")], env={**env, "AO_DEMO_REAL": "1", "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "ANTHROPIC_API_KEY is not set" in done.stderr
    if not (REPO / ".kind" / "kubeconfig").exists():
        assert "make kind-up" in done.stderr


def test_the_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
    subprocess.run(
        [shellcheck, *(str(REPO / "hack" / s) for s in SCRIPTS)], check=True, timeout=120
    )
