"""The agents' egress NetworkPolicy, kept by the operator in every namespace it dispatches
into: no ingress; DNS only to the cluster DNS; TCP 443 only, to the allowed destinations
or by default anywhere except link-local (the cloud metadata address), loopback and the
cluster's own pod and service ranges. The actuator makes sure it is in place before it
creates a namespace's first Job (and again now and then); a namespace where it cannot be
written gets no Job.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from agent_api import models, names

from agent_operator import api, kube

logger = logging.getLogger(__name__)

POLICY_NAME = "agent-orchestrator-agent-egress"
RECHECK_SECONDS = 300.0  # how often a kept policy is compared with what it should be


@dataclasses.dataclass(frozen=True)
class EgressConfig:
    """From the operator settings `egress_*` and `cluster_cidrs`."""

    cidrs: tuple[str, ...] = ()  # empty: anywhere except `except_cidrs`
    except_cidrs: tuple[str, ...] = ("169.254.0.0/16", "127.0.0.0/8", "fe80::/10", "::1/128")
    cluster_cidrs: tuple[str, ...] = ()
    dns_namespace: str = "kube-system"
    dns_labels: tuple[tuple[str, str], ...] = (("k8s-app", "kube-dns"),)


def _blocks(config: EgressConfig) -> list[dict[str, Any]]:
    if config.cidrs:
        return [{"ipBlock": {"cidr": cidr}} for cidr in config.cidrs]
    excluded = [
        ipaddress.ip_network(c, strict=False) for c in (*config.except_cidrs, *config.cluster_cidrs)
    ]
    blocks = []
    for anywhere in (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")):
        inside = sorted({str(n) for n in excluded if n.version == anywhere.version})
        block: dict[str, Any] = {"cidr": str(anywhere)}
        if inside:
            block["except"] = inside
        blocks.append({"ipBlock": block})
    return blocks


def manifest(namespace: str, config: EgressConfig) -> dict[str, Any]:
    """The NetworkPolicy for the agent pods of one namespace."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": POLICY_NAME,
            "namespace": namespace,
            "labels": {models.LABEL_MANAGED_BY: names.OPERATOR_MANAGER},
        },
        "spec": {
            "podSelector": {"matchLabels": {models.LABEL_MANAGED_BY: names.OPERATOR_MANAGER}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": config.dns_namespace}
                            },
                            "podSelector": {"matchLabels": dict(config.dns_labels)},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {"to": _blocks(config), "ports": [{"protocol": "TCP", "port": 443}]},
            ],
        },
    }


def config_from(
    *,
    cidrs: Sequence[str],
    except_cidrs: Sequence[str],
    cluster_cidrs: Sequence[str],
    dns_namespace: str,
    dns_labels: Sequence[str],
) -> EgressConfig:
    return EgressConfig(
        cidrs=tuple(cidrs),
        except_cidrs=tuple(except_cidrs),
        cluster_cidrs=tuple(cluster_cidrs),
        dns_namespace=dns_namespace,
        dns_labels=tuple(
            (k.strip(), v.strip()) for k, v in (item.split("=", 1) for item in dns_labels)
        ),
    )


class Keeper:
    """Makes sure a namespace has the policy before its Jobs are created."""

    def __init__(
        self,
        client: api.ClusterApi,
        config: EgressConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._config = config
        self._monotonic = monotonic
        self._kept: dict[str, float] = {}  # namespace -> when it was last written or checked
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(self, namespace: str) -> str | None:
        """None when the namespace has the policy; else why it could not be written."""
        lock = self._locks.setdefault(namespace, asyncio.Lock())
        async with lock:
            kept = self._kept.get(namespace)
            if kept is not None and self._monotonic() - kept < RECHECK_SECONDS:
                return None
            try:
                await self._client.ensure_network_policy(manifest(namespace, self._config))
            except kube.ApiError as error:
                logger.warning(
                    "could not write the egress NetworkPolicy in %s: %s", namespace, error
                )
                return (
                    f"the agents' egress NetworkPolicy {POLICY_NAME} could not be written in "
                    f"namespace {namespace!r} ({error.status} {error.reason}: {error.message})"
                )
            self._kept[namespace] = self._monotonic()
            return None
