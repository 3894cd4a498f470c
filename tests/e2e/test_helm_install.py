"""The Helm chart installed into the local control plane: every object accepted by
the real API server under the restricted Pod Security Standard, the operator pod
scheduled onto a kwok node, and nothing left behind by `helm uninstall` but the kept
CRDs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHART
from tests.integration.conftest import KUBECONFIG, kubectl

pytestmark = pytest.mark.e2e


def helm_run(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), f"--kubeconfig={KUBECONFIG}", *args],
                          capture_output=True, text=True, timeout=300)


def test_install_and_uninstall(helm: Path, namespace: str) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    release = f"ao-{namespace}"
    installed = helm_run(
        helm, "install", release, str(CHART), "--namespace", namespace, "--take-ownership",
        "--set", "operator.allNamespaces=false", "--set", "replicaCount=1",
        "--set", "apiKey.create=true", "--set", "apiKey.value=sk-e2e",
        "--wait", "--timeout", "180s",
    )
    assert installed.returncode == 0, installed.stderr
    try:
        manifest = helm_run(helm, "get", "manifest", release, "--namespace", namespace).stdout
        objects = [d for d in yaml.safe_load_all(manifest) if d]
        kinds = {d["kind"] for d in objects}
        assert {"Deployment", "ServiceAccount", "Role", "RoleBinding", "AgentProfile", "AgentPlan",
                "NetworkPolicy", "Secret", "Service", "ConfigMap", "CustomResourceDefinition"} <= kinds
        for obj in objects:
            args = ["get", obj["kind"].lower(), obj["metadata"]["name"], "-o", "name"]
            if obj["kind"] not in {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}:
                args += ["-n", obj["metadata"].get("namespace", namespace)]
            assert kubectl(*args, check=False).returncode == 0, obj["metadata"]["name"]
        pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l",
                                  "app.kubernetes.io/component=operator", "-o", "json").stdout)
        assert len(pods["items"]) == 1
        pod = pods["items"][0]
        assert pod["spec"]["nodeName"].startswith("node-"), "not scheduled onto a kwok node"
        assert pod["status"]["phase"] == "Running"
        profiles = kubectl("get", "agentprofiles", "-n", namespace, "-o", "name").stdout.split()
        assert len(profiles) == 11
    finally:
        uninstalled = helm_run(helm, "uninstall", release, "--namespace", namespace, "--wait")
    assert uninstalled.returncode == 0, uninstalled.stderr
    selector = f"app.kubernetes.io/instance={release}"
    left = kubectl("get", "all,roles,rolebindings,serviceaccounts,secrets,configmaps,"
                   "networkpolicies,poddisruptionbudgets,agentprofiles,agentplans",
                   "-n", namespace, "-l", selector, "-o", "name").stdout.split()
    assert left == []
    cluster_left = kubectl("get", "clusterroles,clusterrolebindings", "-l", selector,
                           "-o", "name").stdout.split()
    assert cluster_left == []
    crds = kubectl("get", "crd", "-l", selector, "-o", "name").stdout.split()
    assert "customresourcedefinition.apiextensions.k8s.io/agenttasks.orchestration.coditect.ai" in crds
