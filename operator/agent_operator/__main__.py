"""`agent-operator`: runs the operator (kopf watches, the dispatcher, metrics, probes).

    agent-operator --namespace team-a            # one or more namespaces
    agent-operator --all-namespaces              # cluster-wide
    AGENT_OPERATOR_NAMESPACES=team-a agent-operator

Flags override the `AGENT_OPERATOR_*` environment (docs/operator.md lists every setting).
Out of the cluster it uses the kubeconfig (`KUBECONFIG` or ~/.kube/config).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sys
from typing import Any, cast

import kopf
import pydantic

from agent_operator import dispatcher, handlers, kube, metrics, scheduling, settings, store

logger = logging.getLogger("agent_operator")


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
    parser.add_argument("--metrics-port", type=int)
    parser.add_argument("--health-port", type=int)
    parser.add_argument("--listen-address")
    parser.add_argument("--peering-name", help="kopf peering for leader election; '' = standalone")
    parser.add_argument("--peering-priority", type=int)
    parser.add_argument("--job-ttl-seconds", type=int)
    parser.add_argument("--default-image")
    parser.add_argument("--fallback-profile")
    parser.add_argument("--resync-seconds", type=float)
    parser.add_argument("--log-level")
    parser.add_argument("--log-format", choices=["text", "json"])
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


async def run(config: settings.OperatorSettings) -> None:
    """Runs kopf and the dispatcher side by side until a signal stops kopf."""
    identity = f"{socket.gethostname()}-{os.getpid()}-{random.randrange(16**6):06x}"
    priority = config.peering_priority or random.randint(1, 2**31 - 1)
    namespaces = None if config.all_namespaces else list(config.namespaces)
    peering = config.peering_name or None
    cache = store.Store()
    async with kube.Kube(kube.connection_from_environment()) as client:
        loop = dispatcher.Dispatcher(
            client=client,
            store=cache,
            config=scheduling.Config(
                max_concurrent=config.max_concurrent,
                fallback_profile=config.fallback_profile,
                default_image=config.default_image,
                job_ttl_seconds=config.job_ttl_seconds,
                identity=identity,
            ),
            namespaces=namespaces,
            elector=None,  # the Lease election is wired in by the settings
            resync_seconds=config.resync_seconds,
        )
        registry = handlers.registry_for(cache, loop)
        logger.info(
            "starting as %s (peering %s, priority %d) in %s",
            identity,
            peering or "off (standalone)",
            priority,
            "all namespaces" if namespaces is None else ", ".join(namespaces),
        )
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
                clusterwide=namespaces is None,
                namespaces=namespaces or (),
                standalone=peering is None,
                peering_name=peering,
                priority=priority,
                identity=cast(Any, identity),
                liveness_endpoint=liveness,
                stop_flag=stop,
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        config = settings.OperatorSettings(**parse_args(argv))
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in error.errors()
        )
        print(f"agent-operator: invalid settings: {problems}", file=sys.stderr)
        return 2
    configure_logging(config)
    if config.metrics_port:
        metrics.serve(config.metrics_port, config.listen_address)
    asyncio.run(run(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
