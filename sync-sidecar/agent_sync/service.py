"""Wires the sidecar together for `agent-sync run` (and for tests that run it in-process)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent_kube import election, kubeconfig

from agent_sync import cluster as cluster_io
from agent_sync import gitrepo, metrics, pruning, sidecar, watching
from agent_sync.ids import IdPattern
from agent_sync.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings, stop: threading.Event, registry: metrics.Metrics | None = None) -> None:
    """Syncs until `stop` is set; every failure inside is logged and retried."""
    registry = registry or metrics.Metrics()
    pattern = IdPattern.compile(settings.id_pattern)
    namespace = settings.resolved_namespace()
    source: sidecar.Source
    repo: gitrepo.GitRepo | None = None
    if settings.git_url:
        repo = gitrepo.GitRepo(
            url=settings.git_url, branch=settings.git_branch, path=str(settings.git_path),
            workdir=settings.git_workdir, author=settings.git_author,
            username=settings.git_username, token=settings.git_token,
            fetch_interval=min(settings.poll_interval_seconds, 10.0),
        )
        source = repo
    else:
        assert settings.file is not None  # the settings validator guarantees one source
        source = sidecar.FileSource(settings.file)
    server = (
        metrics.serve(registry, settings.metrics_host, settings.metrics_port)
        if settings.metrics_port
        else None
    )
    debouncer = watching.SyncDebouncer(
        debounce=settings.debounce_seconds, max_wait=settings.max_wait_seconds
    )
    stop_watching: Callable[[], None] | None = None
    elector: election.LeaderElector | None = None
    renewing: threading.Thread | None = None
    try:
        if repo is not None:
            _retry_until(stop, repo.prepare, "preparing the git clone")
        client = kubeconfig.api_client(settings.kubeconfig)
        if settings.leader_election:
            registry.ready = True  # a replica standing by is healthy
            elector = election.LeaderElector(
                election.KubernetesLeaseApi(client), namespace=namespace,
                name=f"agent-sync-{settings.plan}", identity=settings.identity,
                duration_seconds=settings.lease_seconds,
            )
            renewing = _hold_lease(elector, stop)
            if renewing is None:
                return
        cluster = cluster_io.Cluster(client, namespace=namespace, plan=settings.plan)
        loop = sidecar.Sidecar(
            cluster=cluster, source=source, plan=settings.plan,
            source_path=settings.source_path(), pattern=pattern, metrics=registry,
            status_mode=settings.status_comments, git_url=settings.git_url,
            git_branch=settings.git_branch,
            may_write=None if elector is None else elector.is_leader,
            prune_policy=pruning.Policy(
                share=settings.mass_prune_share, grace_seconds=settings.prune_grace_seconds
            ),
            allow_mass_prune=settings.allow_mass_prune,
        )
        if repo is None and settings.file is not None:
            folder = settings.file.resolve().parent
            if folder.is_dir():
                stop_watching = watching.watch_file(settings.file.resolve(), debouncer.file_changed)
            else:
                log.error(
                    "the folder of %s does not exist: file changes are noticed only every "
                    "%ss until it does", settings.file, settings.poll_interval_seconds,
                )
        threading.Thread(
            target=cluster.watch_tasks, args=(debouncer.cluster_changed, stop),
            name="watch-tasks", daemon=True,
        ).start()
        log.info(
            "syncing plan %s in namespace %s from %s", settings.plan, namespace,
            settings.source_path(),
        )
        loop.run(debouncer, stop, resync=settings.poll_interval_seconds)
    finally:
        if stop_watching is not None:
            stop_watching()
        if elector is not None:
            stop.set()
            if renewing is not None:
                renewing.join(timeout=elector.duration_seconds)
            elector.release()  # a standby takes over at once
        if server is not None:
            server.shutdown()
            server.server_close()


def _retry_until(stop: threading.Event, action: Callable[[], None], what: str) -> None:
    delay = 1.0
    while not stop.is_set():
        try:
            action()
            return
        except Exception as error:
            log.error("%s failed: %s", what, sidecar.explain(error))
            stop.wait(delay)
            delay = min(delay * 2, 60.0)


def _hold_lease(
    elector: election.LeaderElector, stop: threading.Event
) -> threading.Thread | None:
    """Waits until this replica holds the Lease, then keeps renewing it in a thread (which
    it returns); losing it to another replica sets `stop`, so the process exits and its
    container restarts as a standby. None when `stop` was set before the Lease was taken."""
    where = f"{elector.namespace}/{elector.name}"
    log.info("waiting for the lease %s (identity %s)", where, elector.identity)
    while not stop.is_set():
        try:
            if elector.try_hold():
                break
        except Exception as error:  # the API server may be away for a while
            log.warning(
                "could not read the lease %s: %s; retrying", where, cluster_io.describe(error)
            )
        stop.wait(elector.renew_interval)
    else:
        return None
    log.info("holding the lease %s: syncing", where)

    def renew() -> None:
        while not stop.wait(elector.renew_interval):
            try:
                held = elector.try_hold()
            except Exception as error:  # leadership lapses by itself; writes check it
                log.warning("could not renew the lease %s: %s", where, cluster_io.describe(error))
                continue
            if not held:
                log.error("lost the lease %s to another replica: stopping", where)
                stop.set()

    thread = threading.Thread(target=renew, name="lease", daemon=True)
    thread.start()
    return thread
