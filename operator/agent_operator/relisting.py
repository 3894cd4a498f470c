"""Re-listing every kind from the API server into the cache: on becoming leader, and now
and then as a guard against missed watch events."""

from __future__ import annotations

import asyncio
from typing import Any

from agent_api import models, names

from agent_operator import api, kube
from agent_operator import store as store_module

KINDS = ("AgentTask", "AgentPlan", "AgentProfile")


async def relist(
    client: api.ClusterApi, store: store_module.Store, namespaces: list[str] | None
) -> None:
    """Lists the four kinds in the watched namespaces (None: all) and merges the lists."""
    paths: list[tuple[str, str, str | None]] = []
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    selector = f"{models.LABEL_MANAGED_BY}={names.OPERATOR_MANAGER}"
    for namespace in scopes:
        for kind in KINDS:
            paths.append((kind, kube.Kube.custom_path(kind, namespace), None))
        paths.append(("Job", kube.Kube.jobs_path(namespace), selector))
    listed = await asyncio.gather(
        *(
            client.list_all(path, label_selector=sel, transform=store_module.slim)
            for _, path, sel in paths
        )
    )
    merged: dict[str, tuple[list[dict[str, Any]], str]] = {}
    for (kind, _, _), (items, version) in zip(paths, listed, strict=True):
        previous = merged.get(kind, ([], version))
        merged[kind] = (previous[0] + items, min(previous[1], version, key=_as_int))
    for kind, (items, version) in merged.items():
        store.replace(kind, items, version)


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
