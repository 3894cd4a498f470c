"""`agent-sync diff FILE --plan P`: what a sync would change, both ways, changing nothing.

The manual reconciliation tool for sync conflicts: the same pure steps `run` takes
(`render`, `reconcile.changes`, `writeback.decide`) over the file and the tasks the
cluster holds, printed instead of applied. Exit codes as `diff` and `kubectl diff`:
0 no difference, 1 differences, 2 an error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_api import models

from agent_sync import markdown, reconcile, render, textfile, writeback
from agent_sync.ids import BadIdPattern, IdPattern
from agent_sync.markdown import ParsedPlan
from agent_sync.render import TASK_FIELDS, Manifest


@dataclasses.dataclass(frozen=True)
class Update:
    name: str
    task_id: str
    fields: tuple[str, ...]  # spec fields (or labels) that would change


@dataclasses.dataclass(frozen=True)
class Diff:
    """Everything one sync would do."""

    plan: str
    namespace: str
    plan_missing: bool  # the AgentPlan would be created
    create: tuple[tuple[str, str], ...]  # (object name, task ID)
    update: tuple[Update, ...]
    prune: tuple[tuple[str, str], ...]  # (object name, task ID)
    ticks: tuple[tuple[int, str], ...]  # (line, task ID): box to tick in the file
    comments: tuple[tuple[int, str, str | None], ...]  # (line, task ID, phase or None)
    reruns: tuple[tuple[int, str], ...]  # (line, task ID): unticked after success

    @property
    def empty(self) -> bool:
        return not (
            self.plan_missing or self.create or self.update or self.prune or self.ticks
            or self.comments or self.reruns
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "namespace": self.namespace,
            "planMissing": self.plan_missing,
            "cluster": {
                "create": [{"name": n, "taskId": t} for n, t in self.create],
                "update": [
                    {"name": u.name, "taskId": u.task_id, "fields": list(u.fields)}
                    for u in self.update
                ],
                "prune": [{"name": n, "taskId": t} for n, t in self.prune],
                "rerun": [{"line": line, "taskId": t} for line, t in self.reruns],
            },
            "file": {
                "tick": [{"line": line, "taskId": t} for line, t in self.ticks],
                "statusComments": [
                    {"line": line, "taskId": t, "phase": p} for line, t, p in self.comments
                ],
            },
        }


def _changed_fields(desired: Manifest, live: Mapping[str, Any]) -> tuple[str, ...]:
    fields = []
    live_labels = (live.get("metadata") or {}).get("labels") or {}
    for key, value in desired["metadata"].get("labels", {}).items():
        if live_labels.get(key) != value:
            fields.append(f"label {key}")
    live_spec = live.get("spec") or {}
    desired_spec = desired.get("spec") or {}
    fields += [k for k in TASK_FIELDS if live_spec.get(k) != desired_spec.get(k)]
    return tuple(fields)


def compute(
    parsed: ParsedPlan,
    live: Mapping[str, Mapping[str, Any]],
    *,
    plan: str,
    namespace: str,
    plan_exists: bool,
    status_mode: writeback.StatusMode = "active",
) -> Diff:
    """`live` maps object name to each AgentTask labelled with the plan."""
    lines = {task.task_id: task.line for task in parsed.tasks}
    change = writeback.decide(parsed, reconcile.observed(parsed, live, plan=plan), status_mode)
    desired = render.task_manifests(parsed, plan=plan)
    todo = reconcile.changes(desired, live, plan=plan, held_ids=parsed.held_ids)
    create, update = [], []
    for manifest in todo.apply:
        name = str(manifest["metadata"]["name"])
        task_id = str(manifest["spec"]["taskId"])
        if name in live:
            update.append(Update(name, task_id, _changed_fields(manifest, live[name])))
        else:
            create.append((name, task_id))
    prune = [(n, str((live[n].get("spec") or {}).get("taskId", ""))) for n in todo.prune]
    return Diff(
        plan=plan,
        namespace=namespace,
        plan_missing=not plan_exists,
        create=tuple(create),
        update=tuple(update),
        prune=tuple(prune),
        ticks=tuple(sorted((lines[t], t) for t in change.ticks)),
        comments=tuple(sorted((lines[t], t, p) for t, p in change.statuses.items())),
        reruns=tuple(sorted((lines[t], t) for t in change.reruns)),
    )


def format_text(diff: Diff, file: str) -> str:
    """For a person: one line per change, cluster side first, then the file's."""
    if diff.empty:
        return (
            f"{file} and plan {diff.plan!r} in namespace {diff.namespace!r} agree: "
            "a sync changes nothing\n"
        )
    out = [
        f"a sync of {file} with plan {diff.plan!r} (namespace {diff.namespace!r}) would:",
    ]
    if diff.plan_missing:
        out.append(f"  + create AgentPlan {diff.plan}")
    for name, task_id in diff.create:
        out.append(f"  + create {name} ({task_id})")
    for item in diff.update:
        out.append(f"  ~ update {item.name} ({item.task_id}): {', '.join(item.fields)}")
    for name, task_id in diff.prune:
        out.append(f"  - prune  {name} ({task_id}): its line left the file")
    for line, task_id in diff.reruns:
        out.append(
            f"  ↻ rerun  {task_id} ({file}:{line}): its box was unticked after it succeeded"
        )
    for line, task_id in diff.ticks:
        out.append(f"  [x] tick {file}:{line} {task_id}: it succeeded")
    for line, task_id, phase in diff.comments:
        what = f"show <!-- agent: {phase} -->" if phase else "remove the status comment"
        out.append(f"  # note {file}:{line} {task_id}: {what}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file")
    parser.add_argument("--plan", required=True, help="the AgentPlan's name")
    parser.add_argument("-n", "--namespace", help="default: the kubeconfig context's namespace")
    parser.add_argument("--kubeconfig", help="default: KUBECONFIG, else ~/.kube/config")
    parser.add_argument("--id-pattern", default=models.DEFAULT_TASK_ID_PATTERN)
    parser.add_argument("--status-comments", choices=["none", "active", "all"], default="active")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")


def cmd(args: argparse.Namespace) -> int:
    """Reads the file and the plan's tasks, prints what a sync would change."""
    from agent_kube import kubeconfig

    from agent_sync import cluster

    def fail(message: str) -> int:
        print(f"agent-sync: {message}", file=sys.stderr)
        return 2

    try:
        data = Path(args.file).read_bytes()
    except OSError as error:
        return fail(f"cannot read {args.file}: {error.strerror or error}")
    try:
        pattern = IdPattern.compile(args.id_pattern)
    except BadIdPattern as error:
        return fail(str(error))
    text, _ = textfile.decode(data)
    parsed = markdown.parse(text, pattern)
    try:
        client = kubeconfig.api_client(args.kubeconfig)
        namespace = args.namespace or _context_namespace(args.kubeconfig)
        tasks = cluster.Cluster(client, namespace=namespace, plan=args.plan)
        live = tasks.list_tasks()
        plan_exists = tasks.get_plan() is not None
    except kubeconfig.KubeconfigError as error:
        return fail(str(error))
    except Exception as error:  # no cluster, no access: say so, change nothing
        return fail(f"cannot read plan {args.plan!r} from the cluster: {cluster.describe(error)}")
    result = compute(
        parsed, live, plan=args.plan, namespace=namespace, plan_exists=plan_exists,
        status_mode=args.status_comments,
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(format_text(result, args.file))
    return 0 if result.empty else 1


def _context_namespace(kubeconfig: str | None) -> str:
    import kubernetes

    try:
        _, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
    except Exception:
        return "default"
    return str(((active or {}).get("context") or {}).get("namespace") or "default")
