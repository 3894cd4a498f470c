"""What one sync does to the cluster: apply, prune, re-run. Pure; `sidecar` does the I/O.

Only what changed is written: a desired manifest is applied when a field the sidecar
owns differs from the live object. Pruning is limited to tasks the sidecar created
(label `app.kubernetes.io/managed-by=agent-sync` and this plan's label); a task on a
line that could not be read is *held* and never pruned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_api import models

from agent_sync.ids import task_object_name
from agent_sync.markdown import ParsedPlan
from agent_sync.render import MANAGER, TASK_FIELDS, TICKED, Manifest
from agent_sync.writeback import Observed


@dataclass(frozen=True)
class Changes:
    apply: tuple[Manifest, ...]  # manifests that differ from the cluster
    prune: tuple[str, ...]  # names of tasks the sidecar created that left the file


def differs(desired: Manifest, live: Mapping[str, Any] | None) -> bool:
    """Whether applying `desired` would change a field the sidecar owns."""
    if live is None:
        return True
    live_labels = (live.get("metadata") or {}).get("labels") or {}
    for key, value in desired["metadata"].get("labels", {}).items():
        if live_labels.get(key) != value:
            return True
    live_spec = live.get("spec") or {}
    desired_spec = desired.get("spec") or {}
    if desired["kind"] == "AgentTask":
        live_ticked = ((live.get("metadata") or {}).get("annotations") or {}).get(TICKED)
        if live_ticked != (desired["metadata"].get("annotations") or {}).get(TICKED):
            return True
        return any(live_spec.get(key) != desired_spec.get(key) for key in TASK_FIELDS)
    live_source = live_spec.get("source") or {}
    return any(live_source.get(k) != v for k, v in desired_spec.get("source", {}).items())


def is_ours(live: Mapping[str, Any], plan: str) -> bool:
    labels = (live.get("metadata") or {}).get("labels") or {}
    return bool(
        labels.get(models.LABEL_MANAGED_BY) == MANAGER and labels.get(models.LABEL_PLAN) == plan
    )


def changes(
    desired: Sequence[Manifest],
    live: Mapping[str, Mapping[str, Any]],
    *,
    plan: str,
    held_ids: frozenset[str],
) -> Changes:
    """`live` maps object name to the live AgentTask (every task labelled with the plan)."""
    wanted = {str(manifest["metadata"]["name"]) for manifest in desired}
    to_apply = tuple(m for m in desired if differs(m, live.get(str(m["metadata"]["name"]))))
    held_names = {task_object_name(plan, task_id) for task_id in held_ids}
    to_prune = tuple(
        sorted(
            name
            for name, obj in live.items()
            if name not in wanted and name not in held_names and is_ours(obj, plan)
            and ((obj.get("spec") or {}).get("taskId") not in held_ids)
        )
    )
    return Changes(apply=to_apply, prune=to_prune)


def observed(
    parsed: ParsedPlan, live: Mapping[str, Mapping[str, Any]], *, plan: str
) -> dict[str, Observed]:
    """The cluster's view of each task in the file, for `writeback.decide`."""
    result: dict[str, Observed] = {}
    for task in parsed.tasks:
        obj = live.get(task_object_name(plan, task.task_id))
        if obj is None:
            continue
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        succeeded: Mapping[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Succeeded"), {}
        )
        result[task.task_id] = Observed(
            done=bool(spec.get("done", False)),
            phase=status.get("phase"),
            current=not models.rerun_requested(spec.get("rerun"), status.get("observedRerun")),
            ticked=annotations.get(TICKED) == "true",
            marked_done=succeeded.get("reason") == "MarkedDone",
            pull_url=_pull_url(status),
        )
    return result


def succeeded_by_a_run(observed: Mapping[str, Observed]) -> frozenset[str]:
    """Task IDs whose current run an agent finished: their ticked box is not `spec.done`."""
    return frozenset(
        task_id
        for task_id, seen in observed.items()
        if seen.phase == "Succeeded" and seen.current and not seen.marked_done
    )


def _pull_url(status: Mapping[str, Any]) -> str | None:
    url = (status.get("result") or {}).get("prUrl")
    return url if isinstance(url, str) else None
