"""The operator's boundary with the Kubernetes API, as a Protocol.

`kube.Kube` is the real implementation; unit tests give the gatherer, the actuator and the
dispatcher a fake that satisfies the same Protocol, so the type checker proves it fits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from agent_operator.scheduling.policy import SecretMeta


class ClusterApi(Protocol):
    """The calls the dispatcher's parts make."""

    async def list_all(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] = ...,
    ) -> tuple[list[dict[str, Any]], str]: ...

    async def create_job(self, manifest: dict[str, Any]) -> dict[str, Any]: ...

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def create_config_map(self, manifest: dict[str, Any]) -> dict[str, Any]: ...

    async def delete_job(self, namespace: str, name: str) -> None: ...

    async def job_pods(self, namespace: str, job: str) -> list[dict[str, Any]]: ...

    async def job_events(self, namespace: str, job: str) -> list[dict[str, Any]]: ...

    async def remove_finalizer(
        self, kind: str, namespace: str, name: str, finalizer: str
    ) -> None: ...

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def patch_owner_references(
        self, kind: str, namespace: str, name: str, refs: list[dict[str, Any]], uid: str
    ) -> dict[str, Any]: ...

    async def secret_meta(self, namespace: str, name: str) -> SecretMeta | None: ...

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None: ...

    async def ensure_network_policy(self, manifest: dict[str, Any]) -> None: ...

    async def create_event(self, event: dict[str, Any]) -> None: ...
