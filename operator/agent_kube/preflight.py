"""Checks at a program's start, so a person's mistake is one line and not a traceback
from deep inside a watch: the API server answers, and the namespaces named exist."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

TIMEOUT_SECONDS = 10


class Unreachable(Exception):
    """The API server did not answer; the message says where it was looked for."""


def check(client: kubernetes.client.ApiClient, namespaces: Sequence[str]) -> list[str]:
    """The namespaces of `namespaces` that do not exist (those it may not read pass).

    Raises Unreachable when the API server does not answer.
    """
    host = client.configuration.host
    try:
        kubernetes.client.VersionApi(client).get_code(_request_timeout=TIMEOUT_SECONDS)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        where = urlsplit(host).netloc or host
        reason = getattr(error, "reason", None) or error
        raise Unreachable(
            f"cannot reach the API server at {where} ({_short(reason)}): check the "
            "kubeconfig's server address and that the cluster is up"
        ) from error
    except ApiException:
        pass  # it answered: whatever it refused is reported where it matters
    core = kubernetes.client.CoreV1Api(client)
    missing = []
    for name in namespaces:
        try:
            core.read_namespace(name, _request_timeout=TIMEOUT_SECONDS)
        except ApiException as error:
            if error.status == 404:
                missing.append(name)
            # 401/403: this identity may not read namespaces; the watch will say more
    return missing


def _short(reason: object) -> str:
    """urllib3's "HTTPSConnection(host=..., port=...): Failed to establish a new
    connection: [Errno 111] Connection refused" -> "[Errno 111] Connection refused"."""
    return str(reason).rsplit(": ", 1)[-1].strip()
