"""`agent-operator`: runs the operator (kopf watches, the dispatcher, metrics, probes).

    agent-operator --namespace team-a            # one or more namespaces
    agent-operator --all-namespaces              # cluster-wide
    AGENT_OPERATOR_NAMESPACES=team-a agent-operator

Flags override the `AGENT_OPERATOR_*` environment (docs/operator.md lists every setting).
Credentials: `--kubeconfig` or `KUBECONFIG`, else the in-cluster service account, else
~/.kube/config (`agent_kube.kubeconfig`). With several replicas, only the holder of the
Lease `--lease-name` dispatches (`leadership`); the others keep their caches warm.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import random
import signal
import socket
import sys
from collections.abc import Mapping
from typing import Any, cast

import kopf
import kubernetes
import pydantic
from agent_api import settings_errors
from agent_kube import election
from agent_kube import kubeconfig as kubeconfig_module
from agent_kube import preflight as preflight_module

from agent_operator import (
    dispatcher,
    egress,
    handlers,
    kube,
    metrics,
    scheduling,
    settings,
    settings_sandbox,
    store,
)

logger = logging.getLogger("agent_operator")


# Settings whose flag is not `--field-name`.
FLAGS: dict[str, str | None] = {
    "namespaces": "--namespace",
    "leader_election": "--[no-]leader-election",
    "log_level": "--log-level",
}


def parse_args(argv: list[str] | None) -> dict[str, Any]:
    """Flags given on the command line, as settings overrides (unset flags are left out)."""
    parser = argparse.ArgumentParser(
        prog="agent-operator",
        description="Runs AgentTasks as Kubernetes Jobs (settings: docs/operator.md).",
    )
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        dest="namespaces",
        help="namespace to watch (repeatable, or comma-separated)",
    )
    parser.add_argument("--all-namespaces", "-A", action="store_true", default=None)
    parser.add_argument("--max-concurrent", type=int)
    parser.add_argument(
        "--namespace-weights",
        action="append",
        help="fair-share weights of namespaces, ns=weight (repeatable, or comma-separated)",
    )
    parser.add_argument("--pass-budget-seconds", type=float)
    parser.add_argument("--metrics-port", type=int)
    parser.add_argument("--health-port", type=int)
    parser.add_argument("--listen-address")
    parser.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="dispatch only while holding the Lease (default on)",
    )
    parser.add_argument("--lease-name")
    parser.add_argument("--lease-namespace")
    parser.add_argument("--lease-seconds", type=float)
    parser.add_argument("--kubeconfig", help="default: $KUBECONFIG, in-cluster, ~/.kube/config")
    parser.add_argument("--job-ttl-seconds", type=int)
    parser.add_argument("--default-image")
    parser.add_argument("--fallback-profile")
    parser.add_argument("--resync-seconds", type=float)
    parser.add_argument("--log-level")
    parser.add_argument("--log-format", choices=["text", "json"])
    for field, info in settings_sandbox.SandboxSettings.model_fields.items():
        flag = f"--{field.replace('_', '-')}"
        if info.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(
                flag, help="comma-separated" if "list" in str(info.annotation) else None
            )
    args = vars(parser.parse_args(argv))
    if args.get("namespaces"):
        args["namespaces"] = [
            n.strip() for arg in args["namespaces"] for n in arg.split(",") if n.strip()
        ]
    return {k: v for k, v in args.items() if v is not None}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                **({"error": self.formatException(record.exc_info)} if record.exc_info else {}),
            }
        )


def configure_logging(config: settings.OperatorSettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if config.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level)
    logging.getLogger("kopf").setLevel(max(logging.INFO, logging.getLevelName(config.log_level)))
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # one line per watch event
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


def make_elector(
    config: settings.OperatorSettings,
    identity: str,
    *,
    environ: Mapping[str, str] = os.environ,
) -> election.LeaderElector | None:
    """The Lease elector of this replica; None when leader election is off."""
    if not config.leader_election:
        return None
    return election.LeaderElector(
        election.KubernetesLeaseApi(kubeconfig_module.api_client(config.kubeconfig)),
        namespace=config.resolved_lease_namespace(environ),
        name=config.lease_name,
        identity=identity,
        duration_seconds=config.lease_seconds,
    )


async def run(config: settings.OperatorSettings) -> None:
    """Runs kopf and the dispatcher side by side until a signal stops kopf."""
    identity = f"{socket.gethostname()}-{os.getpid()}-{random.randrange(16**6):06x}"
    namespaces = None if config.all_namespaces else list(config.namespaces)
    elector = make_elector(config, identity)
    cache = store.Store()
    async with kube.Kube(kube.connection_from_environment(config.kubeconfig)) as client:
        loop = dispatcher.Dispatcher(
            client=client,
            store=cache,
            config=scheduling.Config(
                max_concurrent=config.max_concurrent,
                fallback_profile=config.fallback_profile,
                default_image=config.default_image,
                job_ttl_seconds=config.job_ttl_seconds,
                identity=identity,
                namespace_weights=tuple(sorted(config.namespace_weights.items())),
                policy=config.policy(),
                review_poll_seconds=config.review_poll_seconds,
                review_poll_max_seconds=config.review_poll_max_seconds,
            ),
            pass_budget_seconds=config.pass_budget_seconds,
            namespaces=namespaces,
            elector=elector,  # None: leader election off, always dispatching
            resync_seconds=config.resync_seconds,
            egress_policy=egress.config_from(
                cidrs=config.egress_cidrs,
                except_cidrs=config.egress_except_cidrs,
                cluster_cidrs=config.cluster_cidrs,
                dns_namespace=config.egress_dns_namespace,
                dns_labels=config.egress_dns_labels,
            )
            if config.egress_policy
            else None,
        )
        registry = handlers.registry_for(cache, loop, kubeconfig=config.kubeconfig)
        logger.info(
            "starting as %s (%s) in %s",
            identity,
            "leader election off: dispatching"
            if elector is None
            else f"Lease {elector.namespace}/{elector.name}, {elector.duration_seconds:g}s",
            "all namespaces" if namespaces is None else ", ".join(namespaces),
        )
        # The dispatcher takes, renews and (when cancelled) releases the Lease itself.
        task = asyncio.create_task(loop.run(), name="dispatcher")
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        liveness = (
            f"http://{config.listen_address}:{config.health_port}/healthz"
            if config.health_port
            else None
        )
        try:
            await kopf.operator(
                registry=registry,
                memories=handlers.ForgetfulMemories(),
                clusterwide=namespaces is None,
                namespaces=namespaces or (),
                standalone=True,  # no kopf peering: every replica watches, the leader writes
                identity=cast(Any, identity),
                liveness_endpoint=liveness,
                stop_flag=stop,
            )
        finally:
            task.cancel()  # releases the Lease, so a standby takes over at once
            with contextlib.suppress(asyncio.CancelledError):
                await task


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        config = settings.OperatorSettings(**parse_args(argv))
    except pydantic.ValidationError as error:
        details = settings_errors.describe(error, env_prefix="AGENT_OPERATOR_", flags=FLAGS)
        print(settings_errors.message("agent-operator", details), file=sys.stderr)
        return settings_errors.EXIT_CODE
    try:
        kubeconfig_module.load_configuration(config.kubeconfig)  # fail now, in one line
    except kubeconfig_module.KubeconfigError as error:
        print(f"agent-operator: {error}", file=sys.stderr)
        return settings_errors.EXIT_CODE
    configure_logging(config)
    problem = busy_port(config) or preflight(config)
    if problem is not None:
        print(problem, file=sys.stderr)
        return settings_errors.EXIT_CODE
    if config.metrics_port:
        try:
            metrics.serve(config.metrics_port, config.listen_address)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            print(port_message(config, "metrics_port"), file=sys.stderr)
            return settings_errors.EXIT_CODE
    asyncio.run(run(config))
    return 0


def preflight(config: settings.OperatorSettings) -> str | None:
    """One line when the API server does not answer or a namespace named does not exist."""
    configuration = kubeconfig_module.load_configuration(config.kubeconfig)
    configuration.retries = 0  # one answer, not three retries logged before the message
    client = kubernetes.client.ApiClient(configuration)
    try:
        missing = preflight_module.check(client, [] if config.all_namespaces else config.namespaces)
    except preflight_module.Unreachable as error:
        return f"agent-operator: {error}"
    finally:
        client.close()  # type: ignore[no-untyped-call]
    if not missing:
        return None
    named = ", ".join(config.namespaces)
    return (
        f"agent-operator: namespace {', '.join(missing)} does not exist (--namespace / "
        f"AGENT_OPERATOR_NAMESPACES named {named}): create it with kubectl create namespace "
        f"{missing[0]}, or fix the name"
    )


def port_message(config: settings.OperatorSettings, field: str) -> str:
    return settings_errors.port_in_use(
        "agent-operator",
        port=getattr(config, field),
        host=config.listen_address,
        setting=settings_errors.setting_name(field, env_prefix="AGENT_OPERATOR_", flags=FLAGS),
    )


def busy_port(config: settings.OperatorSettings) -> str | None:
    """The one-line message for a busy metrics or health port, checked before starting
    (kopf binds the health port deep inside its own tasks, where a clash is a traceback)."""
    for field in ("metrics_port", "health_port"):
        port = getattr(config, field)
        if not port:
            continue
        family = socket.AF_INET6 if ":" in config.listen_address else socket.AF_INET
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((config.listen_address, port))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return port_message(config, field)
                raise
    return None


if __name__ == "__main__":
    sys.exit(main())
