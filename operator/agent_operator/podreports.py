"""What the watch of the attempt pods says: succeeded pods' reports, and what keeps a pod
that has not finished from starting.

The pass that settles a finished attempt needs its pod's report. Reading it from the API
is a round trip in front of every dependent's start; a succeeded pod's report, kept here
from the watch until the gatherer takes it, saves that round trip in the common case.
Anything else (a failed attempt, a pod the watch has not shown yet) is still read from
the API, so nothing depends on the order in which the two watches deliver their events.
Likewise an unstarted attempt whose pod the watch shows needs no look at its pods; only
one without a pod (the Job controller could not create it) has its Events read.
"""

from __future__ import annotations

from typing import Any

from agent_operator import results

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # set on its pods by the Job controller

Key = tuple[str, str]  # (namespace, Job)


class PodReports:
    """By (namespace, Job): succeeded pods' reports until taken or the pod is gone, and
    unfinished pods' start problems. Only these are kept, never the pod."""

    def __init__(self) -> None:
        self._succeeded: dict[Key, tuple[str, results.PodReport]] = {}  # -> (pod, report)
        # pods not finished yet -> (pod, what keeps it from starting; None: nothing)
        self._unfinished: dict[Key, tuple[str, results.StartProblem | None]] = {}

    def apply(self, event_type: str | None, raw: dict[str, Any]) -> bool:
        """Takes in one watch event of an attempt pod; True when a report became known."""
        meta = raw.get("metadata") or {}
        job = (meta.get("labels") or {}).get(JOB_NAME_LABEL)
        if not job:
            return False
        key, pod = (meta.get("namespace") or "", job), meta.get("name") or ""
        if event_type == "DELETED":
            for kept in (self._succeeded, self._unfinished):
                if key in kept and kept[key][0] == pod:
                    del kept[key]
            return False
        phase = (raw.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed"):
            problem = results.start_problem([raw], [])
            before = self._unfinished.get(key)
            self._unfinished[key] = (pod, problem)
            return problem is not None and (before is None or before[1] != problem)
        self._unfinished.pop(key, None)
        if phase != "Succeeded" or key in self._succeeded:
            return False
        report = results.pod_report([raw])
        if report is None:
            return False
        self._succeeded[key] = (pod, report)
        return True

    def take(self, namespace: str, job: str) -> results.PodReport | None:
        """The report of the Job's succeeded pod, if the watch showed one (and forgets it:
        the gatherer keeps what a pass needs)."""
        found = self._succeeded.pop((namespace, job), None)
        return found[1] if found is not None else None

    def start_problem(self, namespace: str, job: str) -> tuple[bool, results.StartProblem | None]:
        """Whether the watch shows an unfinished pod of the Job, and what keeps it from
        starting (None: nothing, as far as the pod says)."""
        found = self._unfinished.get((namespace, job))
        return (True, found[1]) if found is not None else (False, None)

    def __len__(self) -> int:
        return len(self._succeeded) + len(self._unfinished)
