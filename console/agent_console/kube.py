"""The only module of the console that talks to the Kubernetes API.

Objects travel as the API's JSON (plain dicts, field names as in the CRDs), through the
client's raw `call_api`: no model classes in between, so a list of 10,000 tasks costs one
JSON decode.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import urllib3
from agent_api import models
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Kind:
    """A resource the console lists and watches."""

    kind: str
    group_path: str  # '/api/v1' or '/apis/<group>/<version>'
    plural: str
    label_selector: str | None = None
    field_selector: str | None = None

    def path(self, namespace: str | None) -> str:
        where = f"/namespaces/{namespace}" if namespace else ""
        return f"{self.group_path}{where}/{self.plural}"


_CRD_PATH = f"/apis/{models.API_VERSION}"
TASKS = Kind("AgentTask", _CRD_PATH, models.AgentTask.plural)
PLANS = Kind("AgentPlan", _CRD_PATH, models.AgentPlan.plural)
PROFILES = Kind("AgentProfile", _CRD_PATH, models.AgentProfile.plural)
JOBS = Kind("Job", "/apis/batch/v1", "jobs", label_selector=models.LABEL_TASK)
PODS = Kind("Pod", "/api/v1", "pods", label_selector=models.LABEL_TASK)
EVENTS = Kind(
    "Event", "/api/v1", "events", field_selector=f"involvedObject.apiVersion={models.API_VERSION}"
)
ALL_KINDS = (TASKS, PLANS, PROFILES, JOBS, PODS, EVENTS)
AGENT_CONTAINER = "agent"  # the runner's container in an attempt pod


class KubeError(Exception):
    """An API failure, as one line that says what to do."""


def describe(error: BaseException, what: str = "") -> str:
    """One line for an API failure: what failed and what to do."""
    target = f" {what}" if what else ""
    if isinstance(error, ApiException):
        reason = _api_message(error)
        if error.status in (401, 403):
            return (
                f"the API server refused access{target} ({error.status}): {reason}; "
                "check your credentials and RBAC"
            )
        if error.status == 404:
            return f"not found{target}: {reason}"
        return f"API error {error.status}{target}: {reason}"
    if isinstance(error, urllib3.exceptions.HTTPError | OSError):
        return f"cannot reach the API server{target}: {error}"
    return f"{type(error).__name__}{target}: {error}"


def _api_message(error: ApiException) -> str:
    try:
        body = json.loads(error.body or "{}")
        return str(body.get("message") or error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)


def load_client(
    *, kubeconfig: str | None = None, context: str | None = None
) -> tuple[kubernetes.client.ApiClient, str]:
    """A client and the default namespace, as kubectl would pick them: in-cluster
    credentials in a pod (unless a kubeconfig or context is named), else KUBECONFIG or
    ~/.kube/config, with `context` or the current one."""
    config = kubernetes.client.Configuration()
    if kubeconfig is None and context is None:
        try:
            kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=config
            )
            namespace = "default"
            try:
                with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
                    namespace = f.read().strip() or "default"
            except OSError:
                pass
            return kubernetes.client.ApiClient(config), namespace
        except kubernetes.config.ConfigException:
            pass
    try:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=config
        )
        _, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
        if context is not None:
            contexts, _ = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=kubeconfig
            )
            active = next((c for c in contexts if c.get("name") == context), active)
    except kubernetes.config.ConfigException as error:
        raise KubeError(f"no usable kubeconfig: {error}") from error
    except OSError as error:
        raise KubeError(f"cannot read the kubeconfig: {error}") from error
    namespace = ((active or {}).get("context") or {}).get("namespace") or "default"
    return kubernetes.client.ApiClient(config), namespace


class Client:
    """Raw GETs, watches and patches over one ApiClient."""

    def __init__(self, api: kubernetes.client.ApiClient, *, timeout: float = 30.0) -> None:
        self.api = api
        self.timeout = timeout

    def _call(
        self,
        method: str,
        path: str,
        query: list[tuple[str, Any]] | None = None,
        *,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        params = self.api.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        answer = self.api.call_api(
            *params, _request_timeout=timeout if timeout is not None else self.timeout
        )
        if not 200 <= answer.status < 300:
            answer.read()  # type: ignore[no-untyped-call]
            raise ApiException(http_resp=answer)
        raw: urllib3.BaseHTTPResponse = answer.response
        return raw

    def get_json(self, path: str, query: list[tuple[str, Any]] | None = None) -> Any:
        response = self._call("GET", path, query)
        return json.loads(response.data or b"{}")

    def list(self, kind: Kind, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        """Every object of `kind` (in `namespace`, or all): the items and the list's
        resourceVersion. Pages of 500, so a large list never holds the server long."""
        items: list[dict[str, Any]] = []
        cont = ""
        version = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", 500)]
            if kind.label_selector:
                query.append(("labelSelector", kind.label_selector))
            if kind.field_selector:
                query.append(("fieldSelector", kind.field_selector))
            if cont:
                query.append(("continue", cont))
            answer = self.get_json(kind.path(namespace), query)
            for item in answer.get("items") or []:
                item.setdefault("kind", kind.kind)
                items.append(item)
            meta = answer.get("metadata") or {}
            version = meta.get("resourceVersion") or version
            cont = meta.get("continue") or ""
            if not cont:
                return items, version

    def watch(
        self, kind: Kind, namespace: str | None, resource_version: str, *, timeout_seconds: int
    ) -> Iterator[dict[str, Any]]:
        """Watch events ({type, object}) from `resource_version` until the server ends the
        watch (after `timeout_seconds`)."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds),
        ]
        if kind.label_selector:
            query.append(("labelSelector", kind.label_selector))
        if kind.field_selector:
            query.append(("fieldSelector", kind.field_selector))
        response = self._call(
            "GET", kind.path(namespace), query,
            timeout=(self.timeout, timeout_seconds + 30),
        )
        try:
            buffer = b""
            for chunk in response.stream(65536):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            response.release_conn()

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        try:
            found: dict[str, Any] = self.get_json(f"{kind.path(namespace)}/{name}")
            return found
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def merge_patch(
        self, kind: Kind, namespace: str, name: str, patch: dict[str, Any], *, manager: str
    ) -> dict[str, Any]:
        response = self._call(
            "PATCH",
            f"{kind.path(namespace)}/{name}",
            [("fieldManager", manager)],
            body=patch,
            content_type="application/merge-patch+json",
        )
        patched: dict[str, Any] = json.loads(response.data or b"{}")
        return patched

    def pod_log(
        self, namespace: str, pod: str, *, container: str, tail_lines: int, timeout: float = 5.0
    ) -> str:
        """The last `tail_lines` lines of a container's log."""
        response = self._call(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
            _log_query(container, tail_lines),
            timeout=timeout,
        )
        return bytes(response.data or b"").decode("utf-8", errors="replace")

    def follow_log(
        self, namespace: str, pod: str, *, container: str, tail_lines: int
    ) -> Iterator[str]:
        """The log's last lines, then every new line until the container ends."""
        response = self._call(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
            [*_log_query(container, tail_lines), ("follow", "true")],
            timeout=(self.timeout, 24 * 3600),
        )
        try:
            buffer = b""
            for chunk in response.stream(4096):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    yield line.decode("utf-8", errors="replace")
            if buffer:
                yield buffer.decode("utf-8", errors="replace")
        finally:
            response.release_conn()


def _log_query(container: str, tail_lines: int) -> list[tuple[str, Any]]:
    query: list[tuple[str, Any]] = [("container", container)]
    if tail_lines >= 0:  # negative: the whole log
        query.append(("tailLines", tail_lines))
    return query


def list_and_watch(
    client: Client,
    kind: Kind,
    namespace: str | None,
    *,
    on_list: Callable[[str, str | None, list[dict[str, Any]], str], None],
    on_event: Callable[[str, str, dict[str, Any]], None],
    stop: threading.Event,
    timeout_seconds: int = 300,
) -> None:
    """Lists `kind`, then watches it from the list's version; a watch that ends resumes
    where it was, and a version the server no longer has (410 Gone) means a new list.
    Runs until `stop` is set; failures are logged and retried with backoff."""
    backoff = 1.0
    version = ""
    while not stop.is_set():
        try:
            if not version:
                items, version = client.list(kind, namespace)
                on_list(kind.kind, namespace, items, version)
            for event in client.watch(kind, namespace, version, timeout_seconds=timeout_seconds):
                if stop.is_set():
                    return
                backoff = 1.0
                kind_of_event = event.get("type")
                obj = event.get("object") or {}
                if kind_of_event == "ERROR":
                    if obj.get("code") == 410:
                        version = ""  # expired: list again
                    else:
                        log.warning("watch of %s ended: %s", kind.plural, obj.get("message"))
                        version = ""
                    break
                new_version = (obj.get("metadata") or {}).get("resourceVersion")
                if new_version:
                    version = new_version
                if kind_of_event == "BOOKMARK":
                    continue
                obj.setdefault("kind", kind.kind)
                on_event(kind.kind, str(kind_of_event), obj)
        except ApiException as error:
            if error.status == 410:
                version = ""
                continue
            log.warning("watching %s failed: %s", kind.plural, describe(error))
            version = ""
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
        except Exception as error:
            log.warning("watching %s failed: %s", kind.plural, describe(error))
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
