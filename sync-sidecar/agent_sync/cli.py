"""`agent-sync lint | render | diff | run`: the command line.

`lint` and `render` read one file and touch nothing else; `run` is the sidecar.
Exit codes: 0 fine (warnings alone are fine), 1 errors in the file, 2 bad usage or
an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from agent_api import models, settings_errors
from agent_kube import kubeconfig
from pydantic import ValidationError

from agent_sync import diff, lint, markdown, render, textfile
from agent_sync.ids import BadIdPattern, IdPattern

if TYPE_CHECKING:
    from agent_sync.settings import Settings

log = logging.getLogger("agent_sync")


def _read(path: str) -> tuple[str, list[markdown.Problem]]:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SystemExit(_fail(f"cannot read {path}: {error.strerror or error}")) from error
    return textfile.decode(data)


def _fail(message: str) -> int:
    print(f"agent-sync: {message}", file=sys.stderr)
    return settings_errors.EXIT_CODE


def _pattern(source: str) -> IdPattern:
    try:
        return IdPattern.compile(source)
    except BadIdPattern as error:
        raise SystemExit(_fail(str(error))) from error


def cmd_lint(args: argparse.Namespace) -> int:
    text, problems = _read(args.file)
    problems = problems + lint.lint_text(text, _pattern(args.id_pattern))
    if args.json:
        print(json.dumps([p.to_json() for p in problems], indent=2, ensure_ascii=False))
    else:
        for problem in problems:
            where = f"{args.file}:{problem.line}"
            print(f"{where}: {problem.severity}: [{problem.code}] {problem.message}")
        errors = sum(1 for p in problems if p.severity == "error")
        if problems:
            print(f"{errors} error(s), {len(problems) - errors} warning(s)", file=sys.stderr)
    return 1 if lint.has_errors(problems) else 0


def cmd_render(args: argparse.Namespace) -> int:
    if not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", args.plan):
        return _fail(
            f"{args.plan!r} cannot name an AgentPlan: use at most 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )
    text, problems = _read(args.file)
    pattern = _pattern(args.id_pattern)
    parsed = markdown.parse(text, pattern)
    for problem in problems + lint.lint(parsed):
        print(f"{args.file}:{problem.line}: {problem.severity}: [{problem.code}] "
              f"{problem.message}", file=sys.stderr)
    plan = render.plan_manifest(
        args.plan, path=args.source_path or args.file, pattern=pattern,
        namespace=args.namespace, git_url=args.git_url, git_branch=args.git_branch,
    )
    tasks = render.task_manifests(parsed, plan=args.plan, namespace=args.namespace)
    sys.stdout.write(render.to_yaml([plan, *tasks]))
    return 0


def settings_from(args: argparse.Namespace) -> Settings:
    """Flags given on the command line, the rest from AGENT_SYNC_* variables."""
    from agent_sync.settings import Settings

    internal = ("command", "func", "subcommands")
    given = {k: v for k, v in vars(args).items() if v is not None and k not in internal}
    return Settings(**given)


def cmd_run(args: argparse.Namespace) -> int:
    from agent_sync import metrics, service

    try:
        settings = settings_from(args)
    except ValidationError as error:
        details = settings_errors.describe(error, env_prefix="AGENT_SYNC_", flags=RUN_FLAGS)
        print(settings_errors.message("agent-sync", details), file=sys.stderr)
        return settings_errors.EXIT_CODE
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        service.run(settings, stop)
    except kubeconfig.KubeconfigError as error:
        return _fail(str(error))
    except metrics.PortInUse as busy:
        setting = settings_errors.setting_name(
            "metrics_port", env_prefix="AGENT_SYNC_", flags=RUN_FLAGS
        )
        print(
            settings_errors.port_in_use("agent-sync", port=busy.port, host=busy.host,
                                        setting=setting),
            file=sys.stderr,
        )
        return settings_errors.EXIT_CODE
    log.info("stopped")
    return 0


# Settings whose flag is not `--field-name` (None: set by the environment only).
RUN_FLAGS: dict[str, str | None] = {"identity": None, "git_token": None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-sync",
        description="Keep a markdown task list and its AgentTasks in agreement.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    linting = commands.add_parser("lint", help="report every problem in a plan file")
    linting.add_argument("file")
    linting.add_argument("--json", action="store_true", help="print a JSON list of problems")
    linting.add_argument("--id-pattern", default=models.DEFAULT_TASK_ID_PATTERN)
    linting.set_defaults(func=cmd_lint)

    rendering = commands.add_parser("render", help="print the manifests `run` would apply")
    rendering.add_argument("file")
    rendering.add_argument("--plan", required=True, help="the AgentPlan's name")
    rendering.add_argument("--namespace", help="set metadata.namespace (default: none)")
    rendering.add_argument("--id-pattern", default=models.DEFAULT_TASK_ID_PATTERN)
    rendering.add_argument(
        "--source-path", help="spec.source.path of the plan (default: FILE as given)"
    )
    rendering.add_argument("--git-url", help="record the plan's git repository")
    rendering.add_argument("--git-branch", help="its branch (default main)")
    rendering.set_defaults(func=cmd_render)

    differ = commands.add_parser("diff", help="what a sync would change (changes nothing)")
    diff.add_arguments(differ)
    differ.set_defaults(func=diff.cmd)

    running = commands.add_parser("run", help="the sidecar: sync until stopped")
    running.add_argument("--file", help="the markdown file (file mode)")
    running.add_argument("--plan", help="the AgentPlan's name (env AGENT_SYNC_PLAN)")
    running.add_argument("--namespace", help="default: the pod's namespace")
    running.add_argument("--debounce-seconds", "--debounce", type=float, dest="debounce_seconds")
    running.add_argument("--max-wait-seconds", type=float)
    running.add_argument("--id-pattern")
    running.add_argument("--status-comments", choices=["none", "active", "all"])
    running.add_argument("--poll-interval-seconds", "--poll-interval", type=float,
                         dest="poll_interval_seconds")
    running.add_argument("--metrics-port", type=int, help="0 disables (default 8082)")
    running.add_argument("--metrics-host")
    running.add_argument("--kubeconfig")
    running.add_argument("--git-url")
    running.add_argument("--git-branch")
    running.add_argument("--git-path")
    running.add_argument("--git-workdir")
    running.add_argument("--git-username")
    running.add_argument("--git-author")
    running.add_argument("--log-level")
    running.add_argument(
        "--leader-election", action="store_true", default=None,
        help="sync only while holding the Lease agent-sync-<plan> (several replicas)",
    )
    running.add_argument(
        "--allow-mass-prune", action="store_true", default=None,
        help="let the first sync prune more than --mass-prune-share of the plan (or all of it)",
    )
    running.add_argument("--mass-prune-share", type=float,
                         help="largest share of the plan a sync prunes unasked (0.5)")
    running.add_argument("--prune-grace-seconds", type=float,
                         help="how long a task whose line left the file stays suspended (300)")
    running.add_argument("--lease-seconds", type=float,
                         help="how long a holder that stops renewing keeps the Lease (15)")
    running.set_defaults(func=cmd_run)
    parser.set_defaults(subcommands=commands.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # The subcommand's own usage, not the top-level one: `run --plna` shows run's flags.
        args.subcommands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
