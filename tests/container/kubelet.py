"""The kubelet's part, played for `podman kube play`: a Job's pod template becomes a Pod,
and a stopped container becomes the pod status the operator reads.

Only what podman does differently from a kubelet is changed, each for a stated reason;
the containers, their securityContext, env, command and mounts stay as the Job builder
made them.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any


def pod_from_job(
    job: dict[str, Any],
    *,
    name: str,
    host_dir: Path,
    config_maps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The pod a Job controller would create from `job`, ready for `podman kube play`.

    - emptyDir volumes become host directories with the kubelet's mode (0777), so that
      any runAsUser can write them as on a node; podman's own emptyDir takes the image
      directory's owner instead. The test can look inside them afterwards.
    - a configMap volume (a large task input) becomes a host directory holding the
      ConfigMap's keys as files, as the kubelet projects them (read-only); so does a
      downwardAPI volume of the pod's annotations (the task input that fits in one).
    - each container's terminationMessagePath becomes a host file the container may write,
      as the kubelet mounts one; the test reads it afterwards as the kubelet does.
    """
    template = job["spec"]["template"]
    spec = copy.deepcopy(template["spec"])
    volumes = []
    for volume in spec.get("volumes", []):
        if "emptyDir" in volume:
            path = host_dir / "volumes" / volume["name"]
            path.mkdir(parents=True)
            path.chmod(0o777)
            volumes.append(
                {"name": volume["name"], "hostPath": {"path": str(path), "type": "Directory"}}
            )
        elif "configMap" in volume:
            wanted = volume["configMap"]["name"]
            data = next(
                c["data"] for c in config_maps or [] if c["metadata"]["name"] == wanted
            )
            path = host_dir / "configmaps" / volume["name"]
            path.mkdir(parents=True)
            for key, value in data.items():
                (path / key).write_text(value, encoding="utf-8")
                (path / key).chmod(0o644)
            volumes.append(
                {"name": volume["name"], "hostPath": {"path": str(path), "type": "Directory"}}
            )
        elif "downwardAPI" in volume:
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            path = host_dir / "downward" / volume["name"]
            path.mkdir(parents=True)
            for item in volume["downwardAPI"]["items"]:
                field = item["fieldRef"]["fieldPath"]
                match = re.fullmatch(r"metadata\.annotations\['([^']+)'\]", field)
                assert match, f"only annotations are projected here, not {field}"
                (path / item["path"]).write_text(annotations[match[1]], encoding="utf-8")
                (path / item["path"]).chmod(0o644)
            volumes.append(
                {"name": volume["name"], "hostPath": {"path": str(path), "type": "Directory"}}
            )
        else:
            volumes.append(volume)
    for container in spec["containers"]:
        message_path = container.get("terminationMessagePath", "/dev/termination-log")
        file = host_dir / "termination" / container["name"]
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("")
        file.chmod(0o666)
        volume = f"termination-{container['name']}"
        volumes.append({"name": volume, "hostPath": {"path": str(file), "type": "File"}})
        container.setdefault("volumeMounts", []).append(
            {"name": volume, "mountPath": message_path}
        )
    spec["volumes"] = volumes
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": dict(template["metadata"].get("labels", {})),
        },
        "spec": spec,
    }


def termination_message(host_dir: Path, container: str) -> str:
    """What the kubelet would put in the container status: the file, at most 4096 bytes."""
    return (host_dir / "termination" / container).read_bytes()[:4096].decode(errors="replace")


def volume(host_dir: Path, name: str) -> Path:
    return host_dir / "volumes" / name


def pod_status(containers: dict[str, tuple[int, str]]) -> dict[str, Any]:
    """A finished pod as the API server returns it: name -> (exit code, message)."""
    return {
        "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {
            "phase": "Succeeded" if all(c == 0 for c, _ in containers.values()) else "Failed",
            "containerStatuses": [
                {"name": name, "state": {"terminated": {"exitCode": code, "message": message}}}
                for name, (code, message) in containers.items()
            ],
        },
    }
