"""kopf registrations: watch events feed the cache and wake the dispatcher; nothing else.

Handlers return nothing and write nothing, and kopf's own bookkeeping goes to annotations
with our prefix, never to `status`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import kopf
from agent_api import models
from agent_kube import kubeconfig as kubeconfig_module
from kopf._core.reactor import inventory

from agent_operator import dispatcher as dispatcher_module
from agent_operator import jobs, kube
from agent_operator import store as store_module


def registry_for(
    store: store_module.Store,
    dispatcher: dispatcher_module.Dispatcher,
    *,
    kubeconfig: str | None = None,
) -> kopf.OperatorRegistry:
    """A kopf registry wired to this cache and dispatcher (no module-level state); kopf
    logs in with the same credentials as the operator's own client."""
    registry = kopf.OperatorRegistry()

    def feed(name: str, apply: Callable[[str | None, dict[str, Any]], bool]) -> Any:
        # A coroutine, so that kopf calls it on the event loop: a plain function would run
        # in kopf's thread pool, beside a pass reading the cache on the loop.
        async def handler(event: dict[str, Any], **_: Any) -> None:
            raw = event.get("object")
            if isinstance(raw, dict) and apply(event.get("type"), raw):
                dispatcher.wake()

        handler.__name__ = f"cache_{name}"
        return handler

    for kind, plural in (
        ("AgentTask", "agenttasks"),
        ("AgentPlan", "agentplans"),
        ("AgentProfile", "agentprofiles"),
    ):
        kopf.on.event(
            models.GROUP, models.VERSION, plural, registry=registry, id=f"cache-{plural}"
        )(feed(kind.lower(), functools.partial(store.apply, kind)))
    kopf.on.event(
        "batch",
        "v1",
        "jobs",
        labels={models.LABEL_MANAGED_BY: jobs.MANAGED_BY},
        registry=registry,
        id="cache-jobs",
    )(feed("job", functools.partial(store.apply, "Job")))

    # The attempt pods, for their reports only (podreports): nothing else of a pod is kept.
    kopf.on.event(
        "",
        "v1",
        "pods",
        labels={models.LABEL_MANAGED_BY: jobs.MANAGED_BY},
        registry=registry,
        id="cache-pods",
    )(feed("pod", dispatcher.pod_reports.apply))

    @kopf.on.login(registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        return connection_info(kubeconfig, trust_env=settings.networking.trust_env)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=models.GROUP)
        settings.persistence.diffbase_storage = _NoDiffBase(
            prefix=models.GROUP, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{models.GROUP}/finalizer"
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        # kopf lists every object at once before watching; in pages, 10,000 tasks are
        # never all in memory as one answer.
        settings.watching.chunk_size = kube.LIST_PAGE
        # A per-object worker keeps the object's last event while it idles, and a first
        # pass writes every task at once: idle workers go soon.
        settings.queueing.idle_timeout = 0.1

    return registry


class _NoDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf builds the "essence" of every object on every watch event (a deep copy of it)
    to diff it for change handlers; the operator registers only event handlers, which read
    no diff, so there is nothing to build or fetch."""

    def build(
        self, *, body: kopf.Body, extra_fields: Any = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None


class ForgetfulMemories(inventory.ResourceMemories):
    """kopf's per-object memory, kept only while an event is handled.

    kopf keeps one memory per object seen (about 1 KB each, 10 MB at 10,000 tasks) for
    what it tracks between events: daemons, indexes, the progress of change handlers, and
    the throttling of an object whose handling keeps failing. The operator registers
    event handlers only, which use none of it (and kopf writes nothing to the objects),
    so nothing is lost when the memory is not kept.
    """

    async def recall(
        self,
        raw_body: Any,
        *,
        memobase: Any = None,
        noticed_by_listing: bool = False,
        ephemeral: bool = False,
    ) -> inventory.ResourceMemory:
        return await super().recall(
            raw_body, memobase=memobase, noticed_by_listing=noticed_by_listing, ephemeral=True
        )


def connection_info(kubeconfig: str | None, *, trust_env: bool = False) -> kopf.ConnectionInfo:
    """kopf's credentials from `agent_kube.kubeconfig` (read again at every login, so a
    rotated service account token is picked up when kopf logs in after a 401)."""
    try:
        config = kubeconfig_module.load_configuration(kubeconfig)
    except kubeconfig_module.KubeconfigError as error:
        raise kopf.LoginError(str(error)) from None
    header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix(
        "authorization"
    )
    parts = header.split(" ", 1) if header else []
    scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0] if parts else None)
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        username=config.username or None,
        password=config.password or None,
        scheme=scheme,
        token=token,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
        trust_env=trust_env,
    )
