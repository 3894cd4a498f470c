"""Re-listing every kind from the API server into the cache: on becoming leader, and now
and then as a guard against missed watch events."""

from __future__ import annotations

import asyncio

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
    # Each object is merged as its page arrives (the listing keeps only its key), and the
    # objects no list held are dropped once every list of the kind is complete.
    listings = {kind: store.listing(kind) for kind, _, _ in paths}
    listed = await asyncio.gather(
        *(
            client.list_all(path, label_selector=sel, transform=listings[kind].add)
            for kind, path, sel in paths
        )
    )
    versions: dict[str, str] = {}
    for (kind, _, _), (_, version) in zip(paths, listed, strict=True):
        versions[kind] = min(versions.get(kind, version), version, key=_as_int)
    for kind, listing in listings.items():
        listing.finish(versions[kind])


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
