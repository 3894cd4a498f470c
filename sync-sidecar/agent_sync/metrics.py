"""Prometheus metrics and the health endpoints of the sidecar.

One registry, prefix `agent_sync_`, no unbounded labels:
- `agent_sync_syncs_total{result}`: syncs, result `succeeded` or `failed`.
- `agent_sync_errors_total{stage}`: errors by stage: `read`, `api`, `write`, `git`.
- `agent_sync_last_success_timestamp_seconds`: end of the last successful sync.
- `agent_sync_lag_seconds`: from the oldest change a sync covered to its end.
- `agent_sync_tasks`: tasks in the file; `agent_sync_problems{severity}`: lint problems.
- `agent_sync_applied_total`, `agent_sync_pruned_total`, `agent_sync_ticked_total`,
  `agent_sync_reruns_total`: objects written, tasks pruned, boxes ticked, re-runs.
- `agent_sync_file_races_total`: the file changed under a write-back (re-read, re-applied).
- `agent_sync_api_conflicts_total`: 409 answers from the API server.

`/metrics`, `/healthz` (the process answers) and `/readyz` (the last sync succeeded).
"""

from __future__ import annotations

import errno
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import prometheus_client as prom


class Metrics:
    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.syncs = prom.Counter("agent_sync_syncs", "Syncs run.", ["result"], registry=r)
        self.errors = prom.Counter("agent_sync_errors", "Errors by stage.", ["stage"], registry=r)
        self.last_success = prom.Gauge(
            "agent_sync_last_success_timestamp_seconds", "End of the last good sync.", registry=r
        )
        self.lag = prom.Gauge(
            "agent_sync_lag_seconds", "Oldest covered change to sync end.", registry=r
        )
        self.tasks = prom.Gauge("agent_sync_tasks", "Tasks in the file.", registry=r)
        self.problems = prom.Gauge(
            "agent_sync_problems", "Lint problems.", ["severity"], registry=r
        )
        self.applied = prom.Counter("agent_sync_applied", "Objects applied.", registry=r)
        self.pruned = prom.Counter("agent_sync_pruned", "Tasks pruned.", registry=r)
        self.ticked = prom.Counter("agent_sync_ticked", "Boxes ticked.", registry=r)
        self.reruns = prom.Counter("agent_sync_reruns", "Re-runs requested.", registry=r)
        self.file_races = prom.Counter(
            "agent_sync_file_races", "File changed under a write-back.", registry=r
        )
        self.api_conflicts = prom.Counter(
            "agent_sync_api_conflicts", "409 answers from the API server.", registry=r
        )
        self.ready = False


class PortInUse(Exception):
    """Another process listens on the metrics port."""

    def __init__(self, port: int, host: str):
        super().__init__(f"port {port} on {host} is already in use")
        self.port = port
        self.host = host


def not_ready_text(metrics: Metrics) -> bytes:
    """Why /readyz answers 503: never synced, or the last sync failed after earlier ones."""
    if metrics.last_success._value.get() > 0:
        return b"the last sync failed (earlier ones succeeded); the log says why\n"
    return b"no successful sync yet\n"


def serve(metrics: Metrics, host: str, port: int) -> ThreadingHTTPServer:
    """Starts the HTTP server in a daemon thread; call shutdown() to stop it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                body, status = prom.generate_latest(metrics.registry), 200
                kind = prom.CONTENT_TYPE_LATEST
            elif self.path.startswith("/healthz"):
                body, status, kind = b"ok\n", 200, "text/plain"
            elif self.path.startswith("/readyz"):
                status = 200 if metrics.ready else 503
                body = b"ready\n" if metrics.ready else not_ready_text(metrics)
                kind = "text/plain"
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds would flood the log

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(port, host) from error
        raise
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
