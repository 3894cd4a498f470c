"""When to sync: file events debounced, cluster events soon, and a periodic resync.

A burst of saves becomes one sync `debounce` seconds after the last save (but no
later than `max_wait` after the first, so a file saved without pause still syncs).
A change in the cluster (a task succeeded) syncs after a short coalescing delay.
The clock is injected so the schedule can be tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

CLUSTER_DELAY = 0.1  # seconds: coalesces the events of one apply


@dataclass(frozen=True)
class Due:
    """Why a sync runs: the oldest trigger it covers and whether the file may have changed."""

    since: float
    file: bool
    cluster: bool


class SyncDebouncer:
    """Coalesces file and cluster changes into syncs: a sync is due `debounce` seconds after
    the last change, and never later than `max_wait` after the first it covers."""

    def __init__(
        self, *, debounce: float, max_wait: float, clock: Callable[[], float] = time.monotonic
    ):
        self.debounce = debounce
        self.max_wait = max_wait
        self.clock = clock
        self._lock = threading.Condition()
        self._file_first: float | None = None
        self._file_due: float | None = None
        self._cluster_first: float | None = None
        self._cluster_due: float | None = None

    def file_changed(self) -> None:
        with self._lock:
            now = self.clock()
            if self._file_first is None:
                self._file_first = now
            self._file_due = min(now + self.debounce, self._file_first + self.max_wait)
            self._lock.notify_all()

    def cluster_changed(self, delay: float = CLUSTER_DELAY) -> None:
        with self._lock:
            now = self.clock()
            if self._cluster_first is None:
                self._cluster_first = now
            due = now + delay
            self._cluster_due = due if self._cluster_due is None else min(self._cluster_due, due)
            self._lock.notify_all()

    def next_due(self) -> float | None:
        dues = [d for d in (self._file_due, self._cluster_due) if d is not None]
        return min(dues) if dues else None

    def take(self) -> Due | None:
        """The pending sync if it is due now (clearing it), else None."""
        with self._lock:
            due = self.next_due()
            if due is None or due > self.clock():
                return None
            firsts = [f for f in (self._file_first, self._cluster_first) if f is not None]
            result = Due(
                since=min(firsts),
                file=self._file_first is not None,
                cluster=self._cluster_first is not None,
            )
            self._file_first = self._file_due = self._cluster_first = self._cluster_due = None
            return result

    def wait(self, stop: threading.Event, longest: float) -> Due | None:
        """Blocks until a sync is due, `longest` seconds pass, or stop is set."""
        deadline = self.clock() + longest
        while not stop.is_set():
            taken = self.take()
            if taken is not None:
                return taken
            with self._lock:
                due = self.next_due()
                until = min(deadline, due) if due is not None else deadline
                remaining = until - self.clock()
                if remaining <= 0 and due is None:
                    return None
                if self.clock() >= deadline:
                    return None
                self._lock.wait(timeout=max(0.0, min(remaining, 0.5)))
        return None

    def wake(self) -> None:
        with self._lock:
            self._lock.notify_all()


# Reading the file (our own reads too) raises opened/closed_no_write events: not changes.
_WRITES = frozenset({"created", "modified", "moved", "deleted", "closed"})


class _FileEvents(FileSystemEventHandler):
    def __init__(self, path: Path, on_change: Callable[[], None]):
        self.name = path.name
        self.on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        names = {Path(str(event.src_path)).name}
        dest = getattr(event, "dest_path", None)
        if dest:
            names.add(Path(str(dest)).name)
        if self.name in names and event.event_type in _WRITES:
            self.on_change()


def watch_file(path: Path, on_change: Callable[[], None]) -> Callable[[], None]:
    """Watches the file's folder (editors replace files by rename); returns a stop function."""
    observer = Observer()
    observer.schedule(_FileEvents(path, on_change), str(path.parent), recursive=False)
    observer.daemon = True
    observer.start()

    def stop() -> None:
        observer.stop()
        observer.join(timeout=5)

    return stop
