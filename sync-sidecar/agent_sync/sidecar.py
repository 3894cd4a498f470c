"""The `run` loop: read, parse, write status back, apply, prune; then wait for a change.

One sync (`Sidecar.sync_once`) is level-based: it reads the whole file and lists the
plan's tasks, so it needs no memory of earlier syncs and a restart loses nothing.
Every failure (unreadable file, API server down, push refused) is logged with what
to do and retried with backoff; the loop never exits on bad input.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent_api import timefmt

from agent_sync import lint, markdown, pruning, reconcile, render, textfile, writeback
from agent_sync.cluster import Cluster, describe
from agent_sync.gitrepo import GitError
from agent_sync.ids import IdPattern, task_object_name
from agent_sync.metrics import Metrics
from agent_sync.watching import SyncDebouncer

log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 5


class Source(Protocol):
    """Where the markdown lives: a plain file, or a file in a git clone."""

    def refresh(self) -> None: ...
    def read(self) -> bytes: ...
    def write(self, expected: bytes, new: bytes, message: str) -> None: ...


@dataclass
class FileSource:
    path: Path

    def refresh(self) -> None:
        pass

    def read(self) -> bytes:
        """The file's bytes, read when it is not being written (same size and mtime around)."""
        for _ in range(5):
            before = self.path.stat()
            textfile.check_size(str(self.path), before.st_size)
            data = self.path.read_bytes()
            after = self.path.stat()
            if (before.st_mtime_ns, before.st_size, before.st_ino) == (
                after.st_mtime_ns, after.st_size, after.st_ino
            ) and after.st_size == len(data):
                return data
            time.sleep(0.02)
        raise textfile.FileChanged(f"{self.path} is being written; syncing when it settles")

    def write(self, expected: bytes, new: bytes, message: str) -> None:
        textfile.replace_if_unchanged(self.path, expected, new)


@dataclass
class SyncReport:
    """What one sync did (for logs, tests and the benchmark)."""

    tasks: int = 0
    applied: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)  # deleted: their grace period is over
    marked: list[str] = field(default_factory=list)  # suspended: their line left the file
    restored: list[str] = field(default_factory=list)  # their line came back in time
    held: pruning.Held | None = None  # a mass prune waiting for a person
    ticked: list[str] = field(default_factory=list)
    reruns: list[str] = field(default_factory=list)
    file_races: int = 0
    skipped: str | None = None  # why nothing was done


class NotLeading(Exception):
    """This replica's Lease lapsed before a batch of writes: the batch is not written."""


def commit_message(change: writeback.WriteBack) -> str:
    lines = []
    if change.ticks:
        lines.append(f"agent-sync: tick {', '.join(sorted(change.ticks))} (Succeeded)")
    shown = {k: v for k, v in change.statuses.items() if k not in change.ticks}
    if shown:
        status = ", ".join(f"{k} {v or 'cleared'}" for k, v in sorted(shown.items()))
        lines.append(f"agent-sync: status {status}")
    return "\n\n".join(lines) or "agent-sync: status"


class Sidecar:
    def __init__(
        self,
        *,
        cluster: Cluster,
        source: Source,
        plan: str,
        source_path: str,
        pattern: IdPattern,
        metrics: Metrics | None = None,
        status_mode: writeback.StatusMode = "active",
        git_url: str | None = None,
        git_branch: str | None = None,
        clock: Callable[[], str] = timefmt.now_text,
        may_write: Callable[[], bool] | None = None,  # None: no leader election
        prune_policy: pruning.Policy | None = None,
        allow_mass_prune: bool = False,  # for the first sync only (`--allow-mass-prune`)
    ):
        self.cluster = cluster
        self.source = source
        self.plan = plan
        self.pattern = pattern
        self.metrics = metrics or Metrics()
        self.status_mode = status_mode
        self.clock = clock
        self.may_write = may_write
        self.prune_policy = prune_policy or pruning.Policy()
        self._allow_mass_prune = allow_mass_prune
        self._held_shown: bool | None = None  # whether the plan shows a held prune; None: unknown
        self.plan_manifest = render.plan_manifest(
            plan, path=source_path, pattern=pattern, git_url=git_url, git_branch=git_branch
        )
        self._plan_applied = False
        self._logged_problems: set[tuple[str, str | None, str]] = set()
        self._last_bytes: bytes | None = None
        self._parsed: tuple[bytes, str, markdown.ParsedPlan] | None = None
        self._counted_conflicts = 0
        self.stage = "read"  # what the sync is doing, to name the stage of an error

    # ------------------------------------------------------------------ one sync

    def sync_once(self) -> SyncReport:
        """Makes the file and the cluster agree once. Raises on I/O errors."""
        report = SyncReport()
        self.stage = "git"
        self.source.refresh()
        for _ in range(WRITE_ATTEMPTS):
            self.stage = "read"
            data = self.source.read()
            textfile.check_size("being synced", len(data))
            if not data.strip():
                report.skipped = "the file is empty (being written?): nothing applied or pruned"
                log.info("%s; the next save syncs", report.skipped)
                return report
            self.stage = "api"
            self._ensure_plan()  # after the read: a missing file creates no AgentPlan
            text, parsed = self._parse(data)
            self.stage = "api"
            live = self.cluster.list_tasks()
            seen = reconcile.observed(parsed, live, plan=self.plan)
            change = writeback.decide(parsed, seen, self.status_mode)
            if change.changes_file:
                new_text = writeback.apply(text, parsed, change)
                self._still_leading("writing status back")
                self.stage = "write"
                try:
                    self.source.write(data, textfile.encode(new_text), commit_message(change))
                except textfile.FileChanged:
                    report.file_races += 1
                    self.metrics.file_races.inc()
                    log.info("the file changed while writing status back: re-reading")
                    continue
                report.ticked = sorted(change.ticks)
                self.metrics.ticked.inc(len(change.ticks))
                data = textfile.encode(new_text)
                text, parsed = self._parse(data)
            break
        else:
            raise textfile.FileChanged(
                f"the file kept changing during {WRITE_ATTEMPTS} write-backs; trying later"
            )

        self.stage = "api"
        desired = render.task_manifests(
            parsed, plan=self.plan, succeeded=reconcile.succeeded_by_a_run(seen)
        )
        todo = reconcile.changes(desired, live, plan=self.plan, held_ids=parsed.held_ids)
        if todo.apply:
            self._still_leading("applying tasks")
        if any(str(m["metadata"]["name"]) not in live for m in todo.apply):
            self._ensure_plan(again=True)  # creating tasks: the plan may have been deleted
        for manifest in todo.apply:
            self.cluster.apply(manifest)
            report.applied.append(str(manifest["metadata"]["name"]))
        self._prune(todo.prune, desired, live, report)
        # After the apply, so that the task's spec.done is already false when the operator
        # sees the new spec.rerun.
        if change.reruns:
            self._still_leading("requesting reruns")
        for task_id in sorted(change.reruns):
            self.cluster.request_rerun(task_object_name(self.plan, task_id), self.clock())
            report.reruns.append(task_id)
            self.metrics.reruns.inc()
            log.info("%s was unticked after it succeeded: running it again", task_id)
        self.metrics.applied.inc(len(todo.apply))
        self.metrics.pruned.inc(len(report.pruned))
        self.metrics.tasks.set(len(parsed.tasks))
        report.tasks = len(parsed.tasks)
        if todo.apply or report.pruned or report.marked or report.restored:
            log.info(
                "synced %d tasks: applied %d, pruned %d, suspended for pruning %d, restored %d",
                len(parsed.tasks), len(todo.apply), len(report.pruned), len(report.marked),
                len(report.restored),
            )
            self._record_sync()
        self._allow_mass_prune = False  # the flag allows one sync's prune, not every later one
        self._last_bytes = data
        return report

    def _prune(
        self,
        leaving: tuple[str, ...],
        desired: list[render.Manifest],
        live: dict[str, dict[str, Any]],
        report: SyncReport,
    ) -> None:
        """Marks, deletes and restores tasks whose line left (or came back to) the file."""
        wanted = [str(m["metadata"]["name"]) for m in desired]
        ours = [name for name, obj in live.items() if reconcile.is_ours(obj, self.plan)]
        now = timefmt.parse_time(self.clock()) or timefmt.now_utc()

        def decide(allowed: bool) -> pruning.Decision:
            return pruning.decide(
                leaving=leaving, wanted=wanted, live=live, ours=ours,
                policy=self.prune_policy, allowed=allowed, now=now,
            )

        decision = decide(self._allow_mass_prune)
        plan: dict[str, Any] | None = None
        by_annotation = False
        if decision.held is not None:
            plan = self.cluster.get_plan()
            annotations = ((plan or {}).get("metadata") or {}).get("annotations") or {}
            if str(annotations.get(pruning.ALLOW_MASS_PRUNE, "")).lower() == "true":
                decision, by_annotation = decide(True), True
        if decision.mark or decision.delete or decision.restore:
            self._still_leading("pruning tasks")
        for name in decision.restore:
            self.cluster.release_prune(name)
            report.restored.append(name)
            log.info("%s is back in the file before its grace period ended: kept", name)
        for name in decision.mark:
            self.cluster.mark_pruned(name, self.clock())
            report.marked.append(name)
            log.info(
                "%s left the file: suspended, deleted in %gs unless its line comes back",
                name, self.prune_policy.grace_seconds,
            )
        for name in decision.delete:
            uid = (live[name].get("metadata") or {}).get("uid")
            self.cluster.delete_task(name, uid)
            report.pruned.append(name)
            log.info("pruned %s: its line left the file and its grace period is over", name)
        if decision.used_permission:
            how = "the plan's annotation" if by_annotation else "--allow-mass-prune"
            log.warning("pruning %d tasks at once, as %s allows", len(decision.mark), how)
            if by_annotation:
                self.cluster.forget_mass_prune_permission()
        report.held = decision.held
        self._show_held(decision.held, plan)

    def _show_held(self, held: pruning.Held | None, plan: dict[str, Any] | None) -> None:
        """The plan's PruneHeld condition, a Warning Event and a log line when it turns True."""
        if held is None and self._held_shown is False:
            return
        if plan is None:
            plan = self.cluster.get_plan()
        if plan is None:
            return
        status = plan.get("status") or {}
        conditions = [dict(c) for c in status.get("conditions") or []]
        previous = next((c for c in conditions if c.get("type") == pruning.CONDITION), None)
        if held is None:
            wanted = {"status": "False", "reason": pruning.NOT_HELD_REASON,
                      "message": "no prune is held"}
        else:
            wanted = {"status": "True", "reason": pruning.HELD_REASON,
                      "message": held.message(self.plan)}
        if previous is None and held is None:
            self._held_shown = False
            return
        if previous is not None and all(previous.get(k) == v for k, v in wanted.items()):
            self._held_shown = held is not None
            return
        now = self.clock()
        transition = (
            previous.get("lastTransitionTime")
            if previous is not None and previous.get("status") == wanted["status"]
            else now
        )
        conditions = [c for c in conditions if c.get("type") != pruning.CONDITION]
        conditions.append({"type": pruning.CONDITION, **wanted, "lastTransitionTime": transition})
        conditions.sort(key=lambda c: str(c.get("type")))
        self._still_leading("recording a held prune")
        self.cluster.set_plan_conditions(conditions)
        if held is not None and (previous is None or previous.get("status") != "True"):
            log.warning("%s", held.message(self.plan))
            try:
                self.cluster.plan_event(plan, "MassPruneHeld", held.message(self.plan), now)
            except Exception as error:  # the condition and the log say it already
                log.debug("could not record an Event: %s", describe(error))
        self._held_shown = held is not None

    def _still_leading(self, what: str) -> None:
        """Leadership checked again right before each batch of writes: a replica whose
        Lease lapsed meanwhile (renewals failing) writes nothing."""
        if self.may_write is not None and not self.may_write():
            raise NotLeading(f"not holding the lease any more: stopped before {what}")

    def _parse(self, data: bytes) -> tuple[str, markdown.ParsedPlan]:
        """Parses and lints the file, reusing the last result while the bytes are the same
        (most syncs are triggered by the cluster, not by an edit)."""
        if self._parsed is not None and self._parsed[0] == data:
            return self._parsed[1], self._parsed[2]
        text, decode_problems = textfile.decode(data)
        parsed = markdown.parse(text, self.pattern)
        self._report_problems(decode_problems + lint.lint(parsed))
        self._parsed = (data, text, parsed)
        return text, parsed

    def _ensure_plan(self, *, again: bool = False) -> None:
        if self._plan_applied and not again:
            return
        if reconcile.differs(self.plan_manifest, self.cluster.get_plan()):
            self._still_leading("applying the plan")
            self.cluster.apply(self.plan_manifest)
            log.info("applied AgentPlan %s", self.plan)
        self._plan_applied = True

    def _record_sync(self) -> None:
        try:
            self.cluster.record_sync(self.clock())
        except Exception as error:  # a status nicety: never fails the sync
            log.debug("could not record lastSyncTime: %s", describe(error))

    def _report_problems(self, problems: list[markdown.Problem]) -> None:
        """Counts problems in the metrics; logs each problem once, not on every sync."""
        errors = sum(1 for p in problems if p.severity == "error")
        self.metrics.problems.labels("error").set(errors)
        self.metrics.problems.labels("warning").set(len(problems) - errors)
        keys = {}
        for problem in problems:
            # Without the line number: an edit above a problem must not log it again.
            keys[(problem.code, problem.task_id, problem.message.split(": ", 1)[-1])] = problem
        for key, problem in keys.items():
            if key not in self._logged_problems:
                level = logging.ERROR if problem.severity == "error" else logging.WARNING
                log.log(level, "%s", problem.message)
        self._logged_problems = set(keys)

    # ------------------------------------------------------------------ the loop

    def sync_guarded(self, since: float | None = None) -> str:
        """One sync with its failure logged and counted: "ok", "busy", "standby" or "failed".

        A file that keeps changing under the sync is "busy", not a failure: the sync
        runs again when the edits settle.
        """
        try:
            report = self.sync_once()
        except textfile.FileChanged as busy:
            log.info("%s", busy)
            return "busy"
        except NotLeading as standing_by:
            log.warning("%s; syncing again once it is renewed", standing_by)
            return "standby"
        except Exception as error:
            self.metrics.syncs.labels("failed").inc()
            stage = "git" if isinstance(error, GitError) else self.stage
            self.metrics.errors.labels(stage).inc()
            self.metrics.ready = False
            log.error("sync failed: %s", explain(error))
            return "failed"
        self.metrics.syncs.labels("succeeded").inc()
        self.metrics.api_conflicts.inc(self.cluster.conflicts - self._counted_conflicts)
        self._counted_conflicts = self.cluster.conflicts
        self.metrics.last_success.set(time.time())
        if since is not None:
            self.metrics.lag.set(max(0.0, time.monotonic() - since))
        self.metrics.ready = True
        if report.ticked:
            log.info("ticked %s", ", ".join(report.ticked))
        return "ok"

    def unchanged_file(self) -> bool:
        """Whether the file still holds what the last sync saw (a cheap skip)."""
        try:
            return self._last_bytes is not None and self.source.read() == self._last_bytes
        except OSError:
            return False

    def run(self, debouncer: SyncDebouncer, stop: threading.Event, *, resync: float) -> None:
        """Syncs at start, then whenever the debouncer says, until stop is set."""
        backoff = 1.0
        debouncer.cluster_changed(0)
        last = time.monotonic()
        while not stop.is_set():
            due = debouncer.wait(stop, longest=max(0.05, resync - (time.monotonic() - last)))
            if stop.is_set():
                break
            if due is None:
                debouncer.cluster_changed(0)  # periodic resync (and git fetch)
                continue
            if due.file and not due.cluster and self.unchanged_file():
                continue  # our own write-back, or a save that changed nothing
            last = time.monotonic()
            outcome = self.sync_guarded(due.since)
            if outcome == "ok":
                backoff = 1.0
            elif outcome == "busy":
                debouncer.file_changed()
            else:  # failed, or the lease is being renewed again
                debouncer.cluster_changed(backoff)
                backoff = min(backoff * 2, 30.0)


def explain(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError):
        return (
            f"the plan file {error.filename} does not exist: create it, or fix --file / "
            "--git-path; tasks in the cluster are left as they are"
        )
    if isinstance(error, PermissionError):
        return (
            f"cannot read or write {error.filename}: give the sidecar's user read and "
            "write access to the file and its folder"
        )
    if isinstance(error, IsADirectoryError | NotADirectoryError):
        return f"{error.filename} is not a file: point --file at the markdown file"
    if isinstance(error, GitError | textfile.FileChanged | textfile.FileTooLarge):
        return str(error)
    return describe(error)
