"""The only module that talks to the Kubernetes API (besides kopf's own watching).

A small asyncio client on aiohttp, configured by the shared client layer
(`agent_kube.kubeconfig`: --kubeconfig or $KUBECONFIG, else the in-cluster service
account, else ~/.kube/config), with the handful of calls the operator needs.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import ssl
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from agent_api import models
from agent_kube import kubeconfig as kubeconfig_module

from agent_operator.scheduling import policy

logger = logging.getLogger(__name__)

TASKS = f"/apis/{models.GROUP}/{models.VERSION}"
PLURALS = {"AgentTask": "agenttasks", "AgentPlan": "agentplans", "AgentProfile": "agentprofiles"}
LIST_PAGE = 500  # objects per page of a list


class ApiError(Exception):
    """An error answer of the API server."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclasses.dataclass
class Connection:
    """Where the API server is and how to authenticate."""

    host: str
    ssl_context: ssl.SSLContext | bool
    headers: dict[str, str]
    refresh: Any = None  # kubernetes Configuration whose token may need refreshing


def connection_from_environment(kubeconfig: str | None = None) -> Connection:
    """Configured in the one precedence of `agent_kube.kubeconfig`; raises its
    KubeconfigError when no credentials can be used."""
    config = kubeconfig_module.load_configuration(kubeconfig)
    context: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=config.ssl_ca_cert) if config.verify_ssl else False
    )
    if config.cert_file and isinstance(context, ssl.SSLContext):
        context.load_cert_chain(config.cert_file, config.key_file)
    elif config.cert_file:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(config.cert_file, config.key_file)
    headers = {}
    token = config.get_api_key_with_prefix("authorization") or config.get_api_key_with_prefix(
        "BearerToken"
    )
    if token:
        headers["Authorization"] = token
    return Connection(
        host=config.host.rstrip("/"), ssl_context=context, headers=headers, refresh=config
    )


class Kube:
    """The calls the operator makes, each one named for what it does."""

    def __init__(self, connection: Connection, *, max_connections: int = 64) -> None:
        self._connection = connection
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._token_checked = time.monotonic()

    async def __aenter__(self) -> Kube:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                ssl=self._connection.ssl_context, limit=self._max_connections
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=60),
                read_bufsize=2**22,  # watch lines carry whole objects
            )
        return self._session

    def _headers(self) -> dict[str, str]:
        config = self._connection.refresh
        if (
            config is not None
            and getattr(config, "refresh_api_key_hook", None)
            and (time.monotonic() - self._token_checked > 60)
        ):
            config.refresh_api_key_hook(config)
            token = config.get_api_key_with_prefix("authorization")
            if token:
                self._connection.headers["Authorization"] = token
            self._token_checked = time.monotonic()
        return self._connection.headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One API call; returns the decoded answer or raises ApiError."""
        url = self._connection.host + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {**self._headers(), "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        for attempt in range(5):
            try:
                async with self._session_now().request(
                    method, url, data=data, headers=headers
                ) as response:
                    text = await response.text()
                    retryable = response.status == 429 or response.status >= 500
                    if retryable and attempt < 4:
                        await asyncio.sleep(0.2 * 2**attempt)
                        continue
                    if response.status >= 400:
                        try:
                            payload = json.loads(text)
                            raise ApiError(
                                response.status,
                                payload.get("reason", ""),
                                payload.get("message", text),
                            )
                        except ValueError:
                            raise ApiError(response.status, "", text) from None
                    return json.loads(text) if text else None
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def watch(
        self, path: str, *, params: dict[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events at `path` until the server ends the stream."""
        query = {"watch": "1", **(params or {})}
        url = f"{self._connection.host}{path}?{urllib.parse.urlencode(query)}"
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self._session_now().get(
            url, headers={**self._headers(), "Accept": "application/json"}, timeout=timeout
        ) as response:
            if response.status >= 400:
                raise ApiError(response.status, "", await response.text())
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)

    # -- lists

    async def list_all(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item,
    ) -> tuple[list[dict[str, Any]], str]:
        """Every object at `path` (paged), and the list's resourceVersion. `transform`
        is applied to each object as its page arrives, so only one page is held whole."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": str(LIST_PAGE)}
        if label_selector:
            params["labelSelector"] = label_selector
        version = ""
        while True:
            page = await self.request("GET", path, params=params)
            items.extend(transform(item) for item in page.get("items") or [])
            meta = page.get("metadata") or {}
            del page  # not held while the next one is fetched
            version = meta.get("resourceVersion") or version
            token = meta.get("continue")
            if not token:
                return items, version
            params["continue"] = token

    @staticmethod
    def custom_path(kind: str, namespace: str | None, name: str | None = None) -> str:
        plural = PLURALS[kind]
        base = f"{TASKS}/namespaces/{namespace}/{plural}" if namespace else f"{TASKS}/{plural}"
        return f"{base}/{name}" if name else base

    @staticmethod
    def jobs_path(namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/batch/v1/namespaces/{namespace}/jobs" if namespace else "/apis/batch/v1/jobs"
        return f"{base}/{name}" if name else base

    # -- jobs

    async def create_job(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return dict(
            await self.request(
                "POST", self.jobs_path(manifest["metadata"]["namespace"]), body=manifest
            )
        )

    async def create_config_map(self, manifest: dict[str, Any]) -> dict[str, Any]:
        namespace = manifest["metadata"]["namespace"]
        return dict(
            await self.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=manifest)
        )

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return dict(await self.request("GET", self.jobs_path(namespace, name)))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def delete_job(self, namespace: str, name: str) -> None:
        try:
            await self.request(
                "DELETE",
                self.jobs_path(namespace, name),
                body={"propagationPolicy": "Background"},
            )
        except ApiError as error:
            if error.status != 404:
                raise

    async def job_pods(self, namespace: str, job: str) -> list[dict[str, Any]]:
        page = await self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            params={"labelSelector": f"batch.kubernetes.io/job-name={job}"},
        )
        return list(page.get("items") or [])

    async def job_events(self, namespace: str, job: str) -> list[dict[str, Any]]:
        """The Events of a Job (FailedCreate says why the Job controller made no pod)."""
        page = await self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/events",
            params={"fieldSelector": f"involvedObject.kind=Job,involvedObject.name={job}"},
        )
        return list(page.get("items") or [])

    async def remove_finalizer(self, kind: str, namespace: str, name: str, finalizer: str) -> None:
        """Removes one finalizer from a Job or Pod (a strategic merge patch touches no
        other finalizer); a missing object is fine."""
        path = (
            self.jobs_path(namespace, name)
            if kind == "Job"
            else f"/api/v1/namespaces/{namespace}/pods/{name}"
        )
        try:
            await self.request(
                "PATCH",
                path,
                body={"metadata": {"$deleteFromPrimitiveList/finalizers": [finalizer]}},
                content_type="application/strategic-merge-patch+json",
            )
        except ApiError as error:
            if error.status != 404:
                raise

    # -- our objects

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        return dict(
            await self.request(
                "PATCH",
                self.custom_path(kind, namespace, name) + "/status",
                body={"status": status},
                content_type="application/merge-patch+json",
            )
        )

    async def patch_owner_references(
        self, kind: str, namespace: str, name: str, refs: list[dict[str, Any]], uid: str
    ) -> dict[str, Any]:
        """Replaces the ownerReferences, guarded by uid so a recreated task is not touched."""
        return dict(
            await self.request(
                "PATCH",
                self.custom_path(kind, namespace, name),
                body={"metadata": {"ownerReferences": refs, "uid": uid}},
                content_type="application/merge-patch+json",
            )
        )

    # -- secrets, events

    async def secret_meta(self, namespace: str, name: str) -> policy.SecretMeta | None:
        """The Secret's labels, annotations and key names (its values are dropped at once);
        None when it does not exist or the operator may not read it."""
        try:
            secret = await self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except ApiError as error:
            if error.status in (403, 404):
                if error.status == 403:
                    logger.warning("may not read Secret %s/%s: %s", namespace, name, error)
                return None
            raise
        meta = secret.get("metadata") or {}
        keys = frozenset((secret.get("data") or {}).keys()) | frozenset(
            (secret.get("stringData") or {}).keys()
        )
        return policy.SecretMeta(
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            keys=keys,
        )

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """One key of a Secret, decoded; None when the Secret or key is absent or the
        operator may not read it. Only the review's forge token is read this way, after
        the same checks as the Jobs' references (see docs/review.md)."""
        try:
            secret = await self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except ApiError as error:
            if error.status in (403, 404):
                return None
            raise
        encoded = (secret.get("data") or {}).get(key)
        if not isinstance(encoded, str):
            return None
        try:
            return base64.b64decode(encoded).decode().strip() or None
        except (ValueError, UnicodeDecodeError):
            return None

    async def ensure_network_policy(self, manifest: dict[str, Any]) -> None:
        """Creates the NetworkPolicy, or replaces its spec and labels when they differ."""
        meta = manifest["metadata"]
        base = f"/apis/networking.k8s.io/v1/namespaces/{meta['namespace']}/networkpolicies"
        try:
            current = await self.request("GET", f"{base}/{meta['name']}")
        except ApiError as error:
            if error.status != 404:
                raise
            try:
                await self.request("POST", base, body=manifest)
            except ApiError as create_error:
                if create_error.status != 409:
                    raise
            return
        labels = (current.get("metadata") or {}).get("labels") or {}
        if current.get("spec") == manifest["spec"] and all(
            labels.get(k) == v for k, v in (meta.get("labels") or {}).items()
        ):
            return
        body = {
            **manifest,
            "metadata": {**meta, "resourceVersion": current["metadata"]["resourceVersion"]},
        }
        await self.request("PUT", f"{base}/{meta['name']}", body=body)

    async def create_event(self, event: dict[str, Any]) -> None:
        namespace = event["metadata"]["namespace"]
        await self.request("POST", f"/api/v1/namespaces/{namespace}/events", body=event)
