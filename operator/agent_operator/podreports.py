"""The reports of succeeded attempt pods, as the watch of the attempt pods delivers them.

The pass that settles a finished attempt needs its pod's report. Reading it from the API
is a round trip in front of every dependent's start; a succeeded pod's report, kept here
from the watch until the gatherer takes it, saves that round trip in the common case.
Anything else (a failed attempt, a pod the watch has not shown yet) is still read from
the API, so nothing depends on the order in which the two watches deliver their events.
"""

from __future__ import annotations

from typing import Any

from agent_operator import results

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # set on its pods by the Job controller

Key = tuple[str, str]  # (namespace, Job)


class PodReports:
    """Succeeded attempt pods' reports by (namespace, Job), until taken or the pod is gone.
    Only the report is kept, never the pod."""

    def __init__(self) -> None:
        self._succeeded: dict[Key, tuple[str, results.PodReport]] = {}  # -> (pod, report)

    def apply(self, event_type: str | None, raw: dict[str, Any]) -> bool:
        """Takes in one watch event of an attempt pod; True when a report became known."""
        meta = raw.get("metadata") or {}
        job = (meta.get("labels") or {}).get(JOB_NAME_LABEL)
        if not job:
            return False
        key, pod = (meta.get("namespace") or "", job), meta.get("name") or ""
        if event_type == "DELETED":
            if key in self._succeeded and self._succeeded[key][0] == pod:
                del self._succeeded[key]
            return False
        if (raw.get("status") or {}).get("phase") != "Succeeded" or key in self._succeeded:
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

    def __len__(self) -> int:
        return len(self._succeeded)
