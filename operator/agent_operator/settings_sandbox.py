"""The operator's security settings: what agents may be given and where they may connect.

Part of `settings.OperatorSettings` (same flags and `AGENT_OPERATOR_*` variables; lists are
comma-separated in the environment). `*` in a list allows anything. docs/security.md says
what each one guards against; docs/configuration.md lists the chart values that set them.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_operator.scheduling import policy

CommaList = Annotated[list[str], NoDecode]

DEFAULT_EXCEPT_CIDRS = ["169.254.0.0/16", "127.0.0.0/8", "fe80::/10", "::1/128"]


class SandboxSettings(BaseSettings):
    """Limits on credentials, URLs and profiles, and the agents' egress NetworkPolicy.
    Alone (the dashboard reads it to show the operator's reasons) it reads the same
    `AGENT_OPERATOR_*` variables."""

    model_config = SettingsConfigDict(env_prefix="AGENT_OPERATOR_", extra="ignore")

    allowed_api_urls: CommaList = Field(
        default_factory=lambda: list(policy.DEFAULT_API_URLS),
        description="URLs a profile's ANTHROPIC_BASE_URL may point to (scheme://host[/path]; "
        "*.example.com for subdomains).",
    )
    allowed_repository_urls: CommaList = Field(
        default_factory=lambda: list(policy.DEFAULT_REPOSITORY_URLS),
        description="URLs spec.repository.url may start with (scheme://host[/path]; "
        "file:///path for local repositories).",
    )
    allowed_forge_api_urls: CommaList = Field(
        default_factory=lambda: list(policy.DEFAULT_FORGE_API_URLS),
        description="Forge API URLs (spec.repository.forge) pull requests may be opened "
        "and watched through (scheme://host[/path]).",
    )
    allowed_images: CommaList = Field(
        default_factory=lambda: list(policy.DEFAULT_IMAGE_PREFIXES),
        description="Prefixes a profile's images must start with (registry/ or "
        "registry/repository).",
    )
    allowed_service_accounts: CommaList = Field(
        default_factory=list,
        description="ServiceAccounts a profile may run its pods as (empty: none; the "
        "namespace's default is always used then).",
    )
    allowed_runtime_classes: CommaList = Field(
        default_factory=lambda: [policy.ANY],
        description="RuntimeClasses a profile may choose.",
    )
    allowed_priority_classes: CommaList = Field(
        default_factory=list, description="PriorityClasses a profile may choose."
    )
    allowed_toleration_keys: CommaList = Field(
        default_factory=list, description="Taint keys a profile may tolerate."
    )
    allow_tolerate_all: bool = Field(
        default=False,
        description="Whether a profile may tolerate every taint (a toleration without a key).",
    )
    allowed_label_prefixes: CommaList = Field(
        default_factory=list,
        description="Prefixes of the pod labels a profile may set (labels select pods for "
        "NetworkPolicies and workload identity).",
    )
    allowed_annotation_prefixes: CommaList = Field(
        default_factory=list,
        description="Prefixes of the pod annotations a profile may set.",
    )
    egress_policy: bool = Field(
        default=True,
        description="Keep the agents' egress NetworkPolicy in every namespace the operator "
        "dispatches into.",
    )
    egress_cidrs: CommaList = Field(
        default_factory=list,
        description="Destinations agents may reach on TCP 443; empty: anywhere except "
        "egress_except_cidrs and cluster_cidrs.",
    )
    egress_except_cidrs: CommaList = Field(
        default_factory=lambda: list(DEFAULT_EXCEPT_CIDRS),
        description="Ranges excluded from 'anywhere' (link-local, with the cloud metadata "
        "address, and loopback).",
    )
    cluster_cidrs: CommaList = Field(
        default_factory=list,
        description="The cluster's pod and service ranges, also excluded from 'anywhere'.",
    )
    egress_dns_namespace: str = Field(
        default="kube-system", description="Namespace of the cluster DNS pods."
    )
    egress_dns_labels: CommaList = Field(
        default_factory=lambda: ["k8s-app=kube-dns"],
        description="Labels of the cluster DNS pods (key=value).",
    )

    @field_validator(
        "allowed_api_urls",
        "allowed_repository_urls",
        "allowed_forge_api_urls",
        "allowed_images",
        "allowed_service_accounts",
        "allowed_runtime_classes",
        "allowed_priority_classes",
        "allowed_toleration_keys",
        "allowed_label_prefixes",
        "allowed_annotation_prefixes",
        "egress_cidrs",
        "egress_except_cidrs",
        "cluster_cidrs",
        "egress_dns_labels",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("egress_cidrs", "egress_except_cidrs", "cluster_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
        return value

    @field_validator("egress_dns_labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        for item in value:
            if "=" not in item:
                raise ValueError(f"{item!r} is not key=value")
        return value

    def policy(self) -> policy.Policy:
        """The limits the readiness checks apply."""
        return policy.Policy(
            api_urls=tuple(self.allowed_api_urls),
            repository_urls=tuple(self.allowed_repository_urls),
            forge_api_urls=tuple(self.allowed_forge_api_urls),
            images=tuple(self.allowed_images),
            service_accounts=tuple(self.allowed_service_accounts),
            runtime_classes=tuple(self.allowed_runtime_classes),
            priority_classes=tuple(self.allowed_priority_classes),
            toleration_keys=tuple(self.allowed_toleration_keys),
            tolerate_all=self.allow_tolerate_all,
            label_prefixes=tuple(self.allowed_label_prefixes),
            annotation_prefixes=tuple(self.allowed_annotation_prefixes),
        )
