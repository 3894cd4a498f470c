"""Prints kwok's default node and pod Stages, as objects for a cluster running with
the Stage CRD enabled (kwokctl --enable-crds Stage applies none by itself).

They come from the kwok module in the Go module cache (the same files kwokctl embeds),
with three changes: pod-ready leaves alone pods whose outcome says they never start
(image-pull, missing-key); pod-complete leaves alone pods annotated
`sim.orchestration.coditect.ai/outcome`, so tests can give those pods Stages of
their own (fail, run long, exceed the deadline) without racing the default; and a pod
being deleted first ends as a kubelet ends it (its containers terminated, phase Failed)
before pod-delete removes it. kwok's pod-delete alone deletes at once, which a pod
holding a finalizer survives without ever reaching a terminal phase, so the Job
controller would wait for it forever.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

OUTCOME_ANNOTATION = "sim.orchestration.coditect.ai/outcome"
NEVER_READY = ("image-pull", "missing-key")  # outcomes of pods that never start
FILES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


TERMINATE = {
    "apiVersion": "kwok.x-k8s.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "pod-terminate"},
    "spec": {
        "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
        "selector": {
            "matchExpressions": [
                {"key": ".metadata.deletionTimestamp", "operator": "Exists"},
                {"key": ".status.phase", "operator": "NotIn", "values": ["Succeeded", "Failed"]},
            ]
        },
        "next": {
            "statusTemplate": (
                "{{ $now := Now }}\n"
                "containerStatuses:\n"
                "{{ range $index, $item := .spec.containers }}\n"
                "- image: {{ $item.image | Quote }}\n"
                "  name: {{ $item.name | Quote }}\n"
                "  ready: false\n"
                "  restartCount: 0\n"
                "  started: false\n"
                "  state:\n"
                "    terminated:\n"
                "      exitCode: 137\n"
                "      finishedAt: {{ $now | Quote }}\n"
                "      reason: Error\n"
                "      startedAt: {{ $now | Quote }}\n"
                "{{ end }}\n"
                "phase: Failed\n"
            )
        },
    },
}


def kwok_module(version: str) -> Path:
    info = subprocess.run(
        ["go", "mod", "download", "-json", f"sigs.k8s.io/kwok@{version}"],
        check=True, capture_output=True, text=True, cwd="/tmp",
    ).stdout
    return Path(json.loads(info)["Dir"])


def main() -> int:
    root = kwok_module(sys.argv[1] if len(sys.argv) > 1 else "v0.8.0") / "kustomize" / "stage"
    docs = []
    for name in FILES:
        stage = yaml.safe_load((root / name).read_text())
        if stage["metadata"]["name"] == "pod-complete":
            stage["spec"]["selector"]["matchExpressions"].append(
                {
                    "key": f'.metadata.annotations["{OUTCOME_ANNOTATION}"]',
                    "operator": "DoesNotExist",
                }
            )
        if stage["metadata"]["name"] == "pod-ready":
            stage["spec"]["selector"]["matchExpressions"].append(
                {
                    "key": f'.metadata.annotations["{OUTCOME_ANNOTATION}"]',
                    "operator": "NotIn",
                    "values": list(NEVER_READY),
                }
            )
        if stage["metadata"]["name"] == "pod-delete":
            docs.append(TERMINATE)
            stage["spec"]["selector"]["matchExpressions"].append(
                {"key": ".status.phase", "operator": "In", "values": ["Succeeded", "Failed"]}
            )
        docs.append(stage)
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
