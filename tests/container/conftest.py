"""Fixtures for the container tests: the images `make images` built, run with podman.

What is real: the two images, podman running the pod manifests (`podman kube play`) with
their securityContext, volumes and Secrets, the runner and the operator inside them, git
over HTTP. What stands in: a fake Messages API and a git host (`git http-backend`) on
127.0.0.1, and the kubelet's part, which this file plays: a Kubernetes Secret becomes a
podman secret, the termination message path is a host file the test reads afterwards,
and the container's end becomes a pod status the operator's own code reads.

These tests skip, saying why, where podman or the images are missing; `make test` builds
the images first wherever podman can run (hack/images.sh --for-tests).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import helm, tools  # noqa: F401  (fixtures: the helm built from Go modules)

REPO = Path(__file__).resolve().parents[2]
AO_CACHE = Path(os.environ.get("AO_CACHE", Path.home() / ".cache" / "agent-orchestrator"))

pytestmark = pytest.mark.container


@dataclasses.dataclass(frozen=True)
class Images:
    operator: str
    runner: str
    dashboard: str


@dataclasses.dataclass(frozen=True)
class Ended:
    """One container of a pod after it stopped."""

    exit_code: int
    logs: str


@dataclasses.dataclass
class Podman:
    env: dict[str, str]

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed: {done.stderr.strip()}")
        return done

    @contextlib.contextmanager
    def play(
        self,
        pod: dict[str, Any],
        *,
        network: str,
        secrets: dict[str, dict[str, str]] | None = None,
        workdir: Path,
    ) -> Iterator[PlayedPod]:
        """Runs `pod` with `podman kube play`; removes the pod and its secrets afterwards.

        `secrets` are Kubernetes Secrets' data (name -> key -> value). podman 4.3 reads a
        secretKeyRef from a podman secret holding the Secret's `data` as JSON.
        """
        created: list[str] = []
        name = pod["metadata"]["name"]
        manifest = workdir / f"{name}.json"
        manifest.write_text(json.dumps(pod, indent=1))  # JSON is YAML, and unambiguous
        try:
            for secret, data in (secrets or {}).items():
                path = workdir / f"secret-{secret}.json"
                encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
                path.write_text(json.dumps(encoded))
                self("secret", "create", secret, str(path))
                path.unlink()
                created.append(secret)
            self("kube", "play", f"--network={network}", str(manifest))
            yield PlayedPod(self, name, [c["name"] for c in pod["spec"]["containers"]])
        finally:
            self("pod", "rm", "--force", name, check=False)
            for secret in created:
                self("secret", "rm", secret, check=False)


@dataclasses.dataclass
class PlayedPod:
    podman: Podman
    name: str
    containers: list[str]

    def wait(self, *containers: str, timeout: float = 300) -> dict[str, Ended]:
        """Waits for these containers (default: all) to stop; their exit codes and logs."""
        chosen = list(containers) or self.containers
        names = [f"{self.name}-{c}" for c in chosen]
        self.podman("wait", *names, timeout=timeout)
        ended = {}
        for container, full in zip(chosen, names, strict=True):
            code = self.podman("inspect", "--format", "{{.State.ExitCode}}", full).stdout
            logs = self.podman("logs", full)
            ended[container] = Ended(int(code.strip()), logs.stdout + logs.stderr)
        return ended


def _why_not(podman_env: dict[str, str], images: Images) -> str | None:
    if shutil.which("podman") is None:
        return (
            "podman is not installed; `make images` installs it on Debian (as root), "
            "elsewhere install podman and run `make images`"
        )
    if not (AO_CACHE / "containers.conf").exists():
        return f"{AO_CACHE / 'containers.conf'} is missing: run `make images`"
    for image in (images.operator, images.runner, images.dashboard):
        exists = subprocess.run(
            ["podman", "image", "exists", image], env=podman_env, capture_output=True, timeout=60
        )
        if exists.returncode != 0:
            return f"image {image} is not built: run `make images`"
    return None


@pytest.fixture(scope="session")
def images() -> Images:
    names = subprocess.run(
        [str(REPO / "hack" / "images.sh"), "--print-names"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()
    return Images(operator=names[0], runner=names[1], dashboard=names[2])


@pytest.fixture(scope="session")
def podman(images: Images) -> Podman:
    env = {**os.environ, "CONTAINERS_CONF": str(AO_CACHE / "containers.conf")}
    reason = _why_not(env, images)
    if reason:
        pytest.skip(f"container tests skipped: {reason}")
    return Podman(env)


@pytest.fixture
def pod_name() -> str:
    return f"ao-test-{uuid.uuid4().hex[:8]}"
