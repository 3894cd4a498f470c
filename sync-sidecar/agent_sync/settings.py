"""Settings of `agent-sync run`: flags first, then `AGENT_SYNC_*` environment variables."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from agent_api import models
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_sync.ids import BadIdPattern, IdPattern
from agent_sync.writeback import StatusMode

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class Settings(BaseSettings):
    """Everything the sidecar needs; see docs/sync-sidecar.md for each one."""

    model_config = SettingsConfigDict(env_prefix="AGENT_SYNC_", extra="forbid")

    plan: str  # the AgentPlan's name; tasks are named <plan>-<task id>
    file: Path | None = None  # the markdown file (file mode)
    namespace: str | None = None  # None: the pod's namespace, else "default"
    debounce_seconds: float = Field(default=2.0, ge=0, le=600)
    max_wait_seconds: float = Field(default=10.0, gt=0, le=3600)  # longest an edit waits
    id_pattern: str = models.DEFAULT_TASK_ID_PATTERN
    status_comments: StatusMode = "active"
    poll_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    # 0 disables the server; 8082 is free beside the operator's 8080 (metrics) and 8081 (health)
    metrics_port: int = Field(default=8082, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    kubeconfig: str | None = None  # None: $KUBECONFIG, else in-cluster, else ~/.kube/config
    git_url: str | None = None
    git_branch: str = "main"
    git_path: str | None = None  # the file inside the repository
    git_workdir: Path = Path("/tmp/agent-sync/repo")
    git_username: str = "x-access-token"
    git_token: str | None = Field(
        default=None, validation_alias=AliasChoices("AGENT_SYNC_GIT_TOKEN", "GIT_TOKEN")
    )
    git_author: str = "agent-sync <agent-sync@orchestration.coditect.ai>"
    log_level: str = "INFO"
    # A sync may prune at most this share of the plan's tasks (and never all of them)
    # unless a person allows it; see agent_sync/pruning.py.
    mass_prune_share: float = Field(default=0.5, gt=0, le=1)
    allow_mass_prune: bool = False  # the first sync may prune any share
    prune_grace_seconds: float = Field(default=300.0, ge=0, le=7 * 86400)  # before a delete
    leader_election: bool = False  # only the holder of the Lease agent-sync-<plan> syncs
    lease_seconds: float = Field(default=15.0, ge=1, le=600)  # how long a silent holder keeps it
    identity: str = Field(  # who holds the Lease: the pod's name in a cluster
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        validation_alias=AliasChoices("AGENT_SYNC_IDENTITY", "POD_NAME"),
    )

    @field_validator("plan")
    @classmethod
    def _plan_is_a_name(cls, plan: str) -> str:
        if not _NAME.match(plan):
            raise ValueError(
                f"{plan!r} cannot name an AgentPlan: use at most 63 lowercase letters, digits "
                "and '-', starting and ending with a letter or digit"
            )
        return plan

    @field_validator("id_pattern")
    @classmethod
    def _id_pattern_compiles(cls, source: str) -> str:
        try:
            IdPattern.compile(source)
        except BadIdPattern as error:
            raise ValueError(str(error)) from None
        return source

    @model_validator(mode="after")
    def _one_source(self) -> Settings:
        if self.git_url:
            if not self.git_path:
                raise ValueError(
                    "git mode needs --git-path: the markdown file's path inside the repository"
                )
        elif self.file is None:
            raise ValueError(
                "say where the plan is: --file PATH, or --git-url URL with --git-path PATH"
            )
        return self

    def resolved_namespace(self) -> str:
        if self.namespace:
            return self.namespace
        if SERVICE_ACCOUNT_NAMESPACE.exists():
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        return "default"

    def source_path(self) -> str:
        """The file's path as the plan records it: as given, or inside the repository."""
        return str(self.git_path if self.git_url else self.file)
