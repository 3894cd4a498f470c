"""kopf registrations: watch events feed the cache and wake the dispatcher; nothing else.

Handlers return nothing and write nothing, and kopf's own bookkeeping goes to annotations
with our prefix, never to `status`.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from agent_api import models

from agent_operator import dispatcher as dispatcher_module
from agent_operator import jobs
from agent_operator import store as store_module


def registry_for(
    store: store_module.Store, dispatcher: dispatcher_module.Dispatcher
) -> kopf.OperatorRegistry:
    """A kopf registry wired to this cache and dispatcher (no module-level state)."""
    registry = kopf.OperatorRegistry()

    def feed(kind: str) -> Any:
        def handler(event: dict[str, Any], **_: Any) -> None:
            raw = event.get("object")
            if isinstance(raw, dict) and store.apply(kind, event.get("type"), raw):
                dispatcher.wake()

        handler.__name__ = f"cache_{kind.lower()}"
        return handler

    for kind, plural in (
        ("AgentTask", "agenttasks"),
        ("AgentPlan", "agentplans"),
        ("AgentProfile", "agentprofiles"),
    ):
        kopf.on.event(
            models.GROUP, models.VERSION, plural, registry=registry, id=f"cache-{plural}"
        )(feed(kind))
    kopf.on.event(
        "batch",
        "v1",
        "jobs",
        labels={models.LABEL_MANAGED_BY: jobs.MANAGED_BY},
        registry=registry,
        id="cache-jobs",
    )(feed("Job"))

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=models.GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=models.GROUP, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{models.GROUP}/finalizer"
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.batching.batch_window = 0.01  # the cache wants events now, not batched
        settings.batching.idle_timeout = 1.0  # per-object workers hold memory while idle
        settings.peering.lifetime = 10  # a dead leader's peers take over within seconds

    return registry
