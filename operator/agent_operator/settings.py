"""Operator settings, from command-line flags and `AGENT_OPERATOR_*` environment variables.

Every setting has the same name as a flag (`--max-concurrent`) and as an environment
variable (`AGENT_OPERATOR_MAX_CONCURRENT`); a flag wins over the environment. The Helm
chart sets the environment variables. docs/operator.md lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from agent_api import models
from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from agent_operator.settings_sandbox import SandboxSettings


class OperatorSettings(SandboxSettings):
    """What the operator watches and how it dispatches (and, from `SandboxSettings`, what
    agents may be given)."""

    model_config = SettingsConfigDict(env_prefix="AGENT_OPERATOR_", extra="ignore")

    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Namespaces to watch (comma-separated in the environment).",
    )
    all_namespaces: bool = Field(default=False, description="Watch every namespace.")
    max_concurrent: int = Field(
        default=5, ge=1, le=10000, description="Global cap on attempts running at once."
    )
    namespace_weights: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description="Weights of the fair share of the global cap among namespaces with ready "
        "work, as `ns=weight` pairs (comma-separated, e.g. `team-a=2,team-b=1`); a namespace "
        "not listed has weight 1.",
    )
    pass_budget_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="Time a scheduling pass may spend matching routing rules; tasks not "
        "routed by then (and not cached) wait for the next pass, which starts at once.",
    )
    metrics_port: int = Field(
        default=8080, ge=0, le=65535, description="Port of /metrics; 0 disables it."
    )
    health_port: int = Field(
        default=8081,
        ge=0,
        le=65535,
        description="Port of the liveness probe /healthz; 0 disables it.",
    )
    listen_address: str = Field(
        default="0.0.0.0",
        description="Address the metrics and health servers listen on.",
    )
    leader_election: bool = Field(
        default=True,
        description="Dispatch only while holding the Lease `lease_name`, so that one of "
        "several replicas writes; false: this replica always dispatches (run only one).",
    )
    lease_name: str = Field(
        default="agent-operator",
        min_length=1,
        max_length=253,
        description="Name of the coordination.k8s.io Lease the replicas elect a leader with.",
    )
    lease_namespace: str = Field(
        default="",
        description="Namespace of the Lease; empty: $POD_NAMESPACE, else the first watched "
        "namespace, else `default`.",
    )
    lease_seconds: float = Field(
        default=15.0,
        ge=1,
        le=600,
        description="How long a leader that stops renewing keeps the Lease; a standby takes "
        "over within about this long (at once after a clean stop).",
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Kubeconfig file; unset: $KUBECONFIG, else the in-cluster service "
        "account, else ~/.kube/config.",
    )
    job_ttl_seconds: int = Field(
        default=3600, ge=0, description="ttlSecondsAfterFinished of the attempt Jobs."
    )
    default_image: str = Field(
        default=models.DEFAULT_RUNNER_IMAGE,
        description="Runner image for the built-in fallback profile.",
    )
    fallback_profile: str = Field(
        default=models.FALLBACK_PROFILE,
        description="Profile for tasks no rule matches.",
    )
    resync_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the whole cache is re-listed from the API server, as a guard "
        "against missed watch events.",
    )
    review_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        le=86400,
        description="How soon the forge is asked about a pull request awaiting review "
        "(plans with spec.review merged); the wait doubles after each answer that finds "
        "it unchanged, up to review_poll_max_seconds.",
    )
    review_poll_max_seconds: float = Field(
        default=600.0,
        gt=0,
        le=86400,
        description="The longest wait between two looks at a pull request awaiting review.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("namespace_weights", mode="before")
    @classmethod
    def _split_weights(cls, value: object) -> object:
        if not isinstance(value, str | list):
            return value
        text = value if isinstance(value, str) else ",".join(str(item) for item in value)
        weights: dict[str, float] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, weight = part.partition("=")
            try:
                number = float(weight)
            except ValueError:
                number = -1.0
            if not sep or not name.strip() or not number > 0:
                raise ValueError(
                    f"{part!r} is not `namespace=weight` with a weight above 0 (e.g. team-a=2)"
                )
            weights[name.strip()] = number
        return weights

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def resolved_lease_namespace(self, environ: Mapping[str, str]) -> str:
        """Where the Lease lives: the setting, the pod's namespace, the first watched one."""
        if self.lease_namespace:
            return self.lease_namespace
        if environ.get("POD_NAMESPACE"):
            return environ["POD_NAMESPACE"]
        return self.namespaces[0] if self.namespaces else "default"

    @model_validator(mode="after")
    def _scope_is_clear(self) -> OperatorSettings:
        if self.all_namespaces and self.namespaces:
            raise ValueError(
                "choose either namespaces (AGENT_OPERATOR_NAMESPACES / --namespace) or "
                "all namespaces (AGENT_OPERATOR_ALL_NAMESPACES / --all-namespaces), not both"
            )
        if not self.all_namespaces and not self.namespaces:
            raise ValueError(
                "no namespace to watch: pass --namespace NS (repeatable) or --all-namespaces, "
                "or set AGENT_OPERATOR_NAMESPACES / AGENT_OPERATOR_ALL_NAMESPACES=true"
            )
        return self
