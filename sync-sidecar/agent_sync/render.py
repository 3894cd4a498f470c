"""The manifests a parsed plan stands for: what `render` prints and `run` applies.

Only the fields the markdown expresses are set (the sidecar's field manager owns
exactly these), so a person may still set `timeoutSeconds`, `agentProfile`,
`maxConcurrent` and the like with kubectl without the sidecar undoing it.

No ownerReferences: the operator adds the reference from each task to its plan, so
the output needs no UIDs and can be committed for Argo CD.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from agent_api import models, names

from agent_sync.ids import IdPattern, task_object_name
from agent_sync.markdown import ParsedPlan, Task

MANAGER = "agent-sync"
# spec fields of an AgentTask that come from the markdown; the rest belong to people.
TASK_FIELDS = ("taskId", "title", "description", "priority", "dependsOn", "gates", "done", "plan")
# On a task whose box is ticked. A tick of a task an agent finished is not `spec.done`
# (that would rewrite the success as "marked done"), so this is how the next sync knows
# that an open box of a Succeeded task was unticked by a person: run it again.
TICKED = f"{models.GROUP}/ticked"
Manifest = dict[str, Any]


def plan_manifest(
    plan: str,
    *,
    path: str,
    pattern: IdPattern,
    namespace: str | None = None,
    git_url: str | None = None,
    git_branch: str | None = None,
) -> Manifest:
    """The AgentPlan with only `spec.source` set."""
    git = (
        models.Repository(url=public_url(git_url), branch=git_branch or "main")
        if git_url
        else None
    )
    source = models.PlanSource(path=path, git=git, id_pattern=pattern.source).to_api()
    if pattern.is_default:
        del source["idPattern"]
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentPlan",
        "metadata": _metadata(plan, namespace, {models.LABEL_MANAGED_BY: MANAGER}),
        "spec": {"source": source},
    }


def _unicode(text: str) -> str:
    """The text as the API can carry it: bytes that were not UTF-8 (kept in the file as
    surrogate escapes) become U+FFFD; textfile.decode has reported them with their line."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def task_manifest(
    task: Task, *, plan: str, namespace: str | None = None, succeeded: bool = False
) -> Manifest:
    """One AgentTask, named `<plan>-<task id>`, labelled as created by the sidecar.

    `succeeded`: the task's current run succeeded through an attempt, so a ticked box
    says so and is not a person marking it done (`spec.done` stays false)."""
    spec = models.AgentTaskSpec(
        task_id=task.task_id,
        title=_unicode(task.title),
        description=_unicode(task.description),
        priority=task.priority,  # parse yields only P0..P3
        depends_on=list(task.depends_on),
        gates=[_unicode(gate) for gate in task.gates],
        done=task.done and not succeeded,
        plan=plan,
    ).to_api()
    labels = {
        models.LABEL_PLAN: plan,
        models.LABEL_MILESTONE: names.label_value(task.milestone.lower()),
        models.LABEL_TASK_ID: task.task_id,  # a valid task ID is a valid label value
        models.LABEL_MANAGED_BY: MANAGER,
    }
    metadata = _metadata(task_object_name(plan, task.task_id), namespace, labels)
    if task.done:
        metadata["annotations"] = {TICKED: "true"}
    return {
        "apiVersion": models.API_VERSION,
        "kind": "AgentTask",
        "metadata": metadata,
        "spec": {key: spec[key] for key in TASK_FIELDS},
    }


def task_manifests(
    parsed: ParsedPlan,
    *,
    plan: str,
    namespace: str | None = None,
    succeeded: frozenset[str] = frozenset(),  # task IDs whose current run an agent finished
) -> list[Manifest]:
    """Every task's manifest, ordered by object name so the output diffs cleanly."""
    manifests = [
        task_manifest(task, plan=plan, namespace=namespace, succeeded=task.task_id in succeeded)
        for task in parsed.tasks
    ]
    manifests.sort(key=lambda manifest: str(manifest["metadata"]["name"]))
    return manifests


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text as a literal block, so a task's text diffs line by line."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(manifests: Iterable[Manifest]) -> str:
    """Multi-document YAML, keys in a fixed order, unicode kept as written."""
    return yaml.dump_all(
        list(manifests), Dumper=_Dumper, sort_keys=False, explicit_start=True,
        allow_unicode=True, width=100,
    )


def public_url(url: str | None) -> str:
    """The URL without user or password, safe to store in a manifest."""
    if not url:
        return ""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _metadata(name: str, namespace: str | None, labels: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = labels
    return metadata
