"""Fixtures for tests against the real local control plane.

What is real: etcd, kube-apiserver, kube-controller-manager and kube-scheduler built
from Go modules, kwok nodes whose Job pods complete, the CRDs from crds/. Nothing
here fakes the API server. The cluster is started once (`hack/cluster.sh up`, a
no-op when it is already up) and every test gets a namespace of its own, deleted
afterwards.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER_DIR = Path(os.environ.get("AO_CLUSTER_DIR", REPO / ".cluster"))
KUBECONFIG = CLUSTER_DIR / "kubeconfig"


def kubectl(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the cluster's kubectl against the local control plane."""
    return subprocess.run(
        [str(CLUSTER_DIR / "bin" / "kubectl"), f"--kubeconfig={KUBECONFIG}", *args],
        check=check,
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )


@pytest.fixture(scope="session")
def cluster() -> Path:
    """The kubeconfig of a running local control plane with the CRDs installed."""
    subprocess.run([str(REPO / "hack" / "cluster.sh"), "up"], check=True, timeout=3600)
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/agenttasks.orchestration.coditect.ai",
        "crd/agentplans.orchestration.coditect.ai",
        "crd/agentprofiles.orchestration.coditect.ai",
    )
    return KUBECONFIG


@pytest.fixture(scope="session")
def api(cluster: Path) -> kubernetes.client.ApiClient:
    """A Kubernetes API client for the local control plane."""
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(cluster), client_configuration=config)
    return kubernetes.client.ApiClient(config)


@pytest.fixture
def namespace(api: kubernetes.client.ApiClient) -> Iterator[str]:
    """A fresh namespace for one test, deleted (in the background) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = kubernetes.client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name, "labels": {"agent-orchestrator-test": "1"}}})
    yield name
    core.delete_namespace(name, propagation_policy="Background")
