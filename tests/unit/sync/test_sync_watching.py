"""The debounce schedule, on a fake clock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agent_sync.watching import SyncDebouncer, watch_file


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_saves_is_one_sync_after_the_last() -> None:
    clock = Clock()
    debouncer = SyncDebouncer(debounce=2, max_wait=10, clock=clock)
    for _ in range(5):
        debouncer.file_changed()
        clock.now += 1
    assert debouncer.take() is None  # 1 s after the last save
    clock.now += 1.01
    due = debouncer.take()
    assert due is not None and due.file and not due.cluster
    assert due.since == 100.0
    assert debouncer.take() is None


def test_saves_without_pause_still_sync_after_max_wait() -> None:
    clock = Clock()
    debouncer = SyncDebouncer(debounce=2, max_wait=5, clock=clock)
    for _ in range(6):
        debouncer.file_changed()
        clock.now += 1
    assert debouncer.take() is not None


def test_cluster_changes_sync_soon() -> None:
    clock = Clock()
    debouncer = SyncDebouncer(debounce=2, max_wait=10, clock=clock)
    debouncer.file_changed()
    debouncer.cluster_changed(0.1)
    clock.now += 0.2
    due = debouncer.take()
    assert due is not None and due.cluster and due.file


def test_wait_returns_when_stopped() -> None:
    debouncer = SyncDebouncer(debounce=2, max_wait=10)
    stop = threading.Event()
    stop.set()
    assert debouncer.wait(stop, longest=5) is None


def test_file_events_reach_the_scheduler(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text("a")
    seen = threading.Event()
    stop = watch_file(path, seen.set)
    try:
        time.sleep(0.1)
        path.read_text()  # reading is no change
        time.sleep(0.3)
        assert not seen.is_set()
        path.write_text("b")
        assert seen.wait(5)
    finally:
        stop()
