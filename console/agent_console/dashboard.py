"""`agent-dashboard`: the read-only dashboard server.

    agent-dashboard --namespace NS [--namespace NS2 | --all-namespaces]
                    [--port 8080] [--listen-address 127.0.0.1] [--max-concurrent 5]

One thread per watched kind and namespace lists and then watches (tasks, plans,
profiles, attempt Jobs and pods, Events about tasks and plans); one thread rebuilds the
view after changes, another runs the operator's decision over the cache; uvicorn serves
the page at `/` and the API at `/api/v1`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence

from agent_operator import scheduling, settings_sandbox

from agent_console import cache, kube

log = logging.getLogger("agent_console")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="agent-dashboard",
        description="Serve agent-orchestrator's live dashboard and REST API (read-only).",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "-n", "--namespace", action="append", dest="namespaces", metavar="NS",
        help="a namespace to watch (repeat for more; default: the kubeconfig's)",
    )
    where.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    parser.add_argument("--port", type=int, default=8080, help="default 8080")
    parser.add_argument(
        "--listen-address", default="127.0.0.1",
        help="default 127.0.0.1: reach it with kubectl port-forward",
    )
    parser.add_argument(
        "--max-concurrent", type=int, default=scheduling.Config().max_concurrent,
        help="the operator's global cap (its AGENT_OPERATOR_MAX_CONCURRENT), for the queue",
    )
    parser.add_argument(
        "--fallback-profile", default=scheduling.Config().fallback_profile,
        help="the operator's fallback profile (AGENT_OPERATOR_FALLBACK_PROFILE)",
    )
    parser.add_argument("--kubeconfig", help="default: KUBECONFIG, else ~/.kube/config")
    parser.add_argument("--context", help="the kubeconfig context (default: the current one)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    return parser


def start_watches(
    client: kube.Client, store: cache.Cache, namespaces: Sequence[str | None], stop: threading.Event
) -> list[threading.Thread]:
    """One list-then-watch thread per kind and namespace (None: all namespaces)."""
    threads = []
    for namespace in namespaces:
        for kind in kube.ALL_KINDS:
            store.expected_lists.add((kind.kind, namespace))
            thread = threading.Thread(
                target=kube.list_and_watch,
                args=(client, kind, namespace),
                kwargs={"on_list": store.on_list, "on_event": store.on_event, "stop": stop},
                name=f"watch-{kind.plural}-{namespace or 'all'}",
                daemon=True,
            )
            thread.start()
            threads.append(thread)
    return threads


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.max_concurrent < 1:
        print("agent-dashboard: error: --max-concurrent must be at least 1", file=sys.stderr)
        return 2
    try:
        import uvicorn

        from agent_console import app as web
    except ImportError as error:
        print(
            f"agent-dashboard: error: {error.name} is not installed: "
            "pip install 'agent-orchestrator[console]'",
            file=sys.stderr,
        )
        return 2
    try:
        api, default_namespace = kube.load_client(kubeconfig=args.kubeconfig, context=args.context)
    except kube.KubeError as error:
        print(f"agent-dashboard: error: {error}", file=sys.stderr)
        return 1
    namespaces: list[str | None] = (
        [None] if args.all_namespaces else sorted(set(args.namespaces or [default_namespace]))
    )
    config = scheduling.Config(
        max_concurrent=args.max_concurrent,
        fallback_profile=args.fallback_profile,
        # the operator's limits, from the AGENT_OPERATOR_ALLOWED_* variables the chart sets
        policy=settings_sandbox.SandboxSettings().policy(),
    )
    store = cache.Cache(
        config=config,
        namespaces=None if args.all_namespaces else frozenset(n for n in namespaces if n),
    )
    client = kube.Client(api)
    # The decide thread runs for seconds at a time; a request waiting for the interpreter
    # gets it within a millisecond instead of the default five.
    sys.setswitchinterval(0.001)
    stop = threading.Event()
    start_watches(client, store, namespaces, stop)
    threading.Thread(target=store.run, args=(stop,), name="recompute", daemon=True).start()
    application = web.create_app(store, client)
    server = uvicorn.Server(
        uvicorn.Config(
            application, host=args.listen_address, port=args.port, log_level="warning",
            access_log=False,
        )
    )
    where = "all namespaces" if args.all_namespaces else ", ".join(n for n in namespaces if n)
    print(
        f"agent-dashboard: serving http://{args.listen_address}:{args.port}/ "
        f"(API at /api/v1, watching {where})",
        flush=True,
    )
    try:
        server.run()
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
