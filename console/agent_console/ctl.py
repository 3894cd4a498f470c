"""`agentctl` (also `kubectl agents`): the plan's progress and the agents from a terminal.

    agentctl status                      plans: progress, running, failed, circuit, spend
    agentctl next [--plan P]             what starts next, and why the rest waits
    agentctl agents                      running attempts: task, profile, age, pod
    agentctl recent [N]                  the last N finished attempts
    agentctl graph PLAN [--format text|dot|mermaid]
    agentctl logs TASK [-f]              the current or last attempt's log, redacted
    agentctl describe TASK
    agentctl rerun TASK | suspend TASK | resume TASK | pause PLAN | resume PLAN

Like kubectl: KUBECONFIG or --kubeconfig, --context, -n/--namespace (default: the
context's), -A/--all-namespaces, -o table|json|yaml. It reads the cluster directly (one
list per kind), not through agent-dashboard, and prints the dashboard API's documents
with -o json. Exit codes: 0 fine, 1 an error (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import yaml
from agent_api import timefmt
from agent_operator import clock, scheduling
from agent_runner import redact
from kubernetes.client.exceptions import ApiException

from agent_console import cache, graphs, kube, views

MANAGER = "agentctl"
PROG = "agentctl"


class Failure(Exception):
    """An error a person can act on: printed as one line, exit 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# --------------------------------------------------------------------------- reading


class Session:
    """The cluster as one command sees it: a client and, on demand, a model."""

    def __init__(self, args: argparse.Namespace, *, now: clock.Clock = clock.system_clock):
        self.args = args
        self.now = now
        api, default_namespace = kube.load_client(
            kubeconfig=getattr(args, "kubeconfig", None), context=getattr(args, "context", None)
        )
        self.client = kube.Client(api, timeout=float(getattr(args, "request_timeout", 30)))
        self.all = bool(getattr(args, "all_namespaces", False))
        self.namespace: str | None = (
            None if self.all else (getattr(args, "namespace", None) or default_namespace)
        )
        self._model: views.Model | None = None

    def model(self, kinds: Sequence[kube.Kind] = kube.ALL_KINDS) -> views.Model:
        if self._model is None:
            feed = cache.Cache(
                config=scheduling.Config(
                    max_concurrent=int(getattr(self.args, "max_concurrent", 5))
                ),
                namespaces=None if self.namespace is None else frozenset({self.namespace}),
                now=self.now,
            )
            for kind in kinds:
                items, version = self.client.list(kind, self.namespace)
                feed.on_list(kind.kind, self.namespace, items, version)
            self._model = feed.refresh()
        return self._model

    def task(self, ref: str, plan: str | None = None) -> views.Key:
        """The task `ref` names (object name or task ID), or a Failure saying why not."""
        model = self.model()
        namespaces = sorted({k[0] for k in model.tasks}) if self.namespace is None else [
            self.namespace
        ]
        found = [
            key
            for ns in namespaces
            for key in (views.find_task(model, ns, ref, plan),)
            if key is not None
        ]
        if len(found) == 1:
            return found[0]
        candidates = [
            k
            for ns in namespaces
            for k in views.task_matches(model, ns, ref)
            if plan is None or views.plan_of(model.tasks[k]) == plan
        ]
        if not candidates:
            where = "any namespace" if self.namespace is None else f"namespace {self.namespace!r}"
            raise Failure(
                f"no AgentTask named or with task ID {ref!r} in {where}"
                + (f" (plan {plan!r})" if plan else "")
                + "; list them with `kubectl get agenttasks`"
            )
        listed = ", ".join(
            f"{ns}/{name} (plan {views.plan_of(model.tasks[(ns, name)])})"
            for ns, name in candidates
        )
        raise Failure(f"{ref!r} matches {len(candidates)} tasks: {listed}; name one, or add --plan")

    def plan_scope(self, name: str) -> views.Key:
        model = self.model()
        scopes = [s for s in model.scopes if s[1] == name and self.namespace in (None, s[0])]
        if not scopes:
            where = "any namespace" if self.namespace is None else f"namespace {self.namespace!r}"
            raise Failure(
                f"no plan {name!r} in {where}; list them with `{PROG} status`"
            )
        if len(scopes) > 1:
            raise Failure(
                f"plan {name!r} exists in {len(scopes)} namespaces "
                f"({', '.join(s[0] for s in sorted(scopes))}); choose one with -n"
            )
        return scopes[0]


# --------------------------------------------------------------------------- printing


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds < 600 else f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def _since(stamp: str | None, now: datetime.datetime) -> str:
    moment = timefmt.parse_time(stamp)
    return _age((now - moment).total_seconds()) if moment else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns as kubectl prints them: upper-case headers, two spaces apart."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines) + "\n"


def emit(args: argparse.Namespace, document: Any, as_table: Callable[[], str]) -> None:
    output = getattr(args, "output", None) or "table"
    if output == "json":
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif output == "yaml":
        sys.stdout.write(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(as_table())


def _money(value: float) -> str:
    return f"${value:.2f}"


# --------------------------------------------------------------------------- commands


def cmd_status(session: Session) -> int:
    model = session.model()
    document = views.plans(model, session.namespace)
    rows = []
    for p in document["items"]:
        circuit = p["circuit"]["state"]
        if p["paused"]:
            circuit += " (paused)"
        rows.append([
            *( [p["namespace"]] if session.all else []),
            p["name"], p["progress"], f"{p['percent']:.0f}%", p["running"], p["failed"],
            circuit, _money(p["costUSD"]),
            f"{p['tokens']['input'] + p['tokens']['output']:,}",
            _eta(p["eta"], model.now) if p["total"] != p["counts"]["succeeded"] else "done",
        ])
    headers = [*(["NAMESPACE"] if session.all else []), "PLAN", "PROGRESS", "%", "RUNNING",
               "FAILED", "CIRCUIT", "SPEND", "TOKENS", "ETA"]
    emit(session.args, document, lambda: table(headers, rows) if rows else "no plans\n")
    return 0


def _eta(stamp: str | None, now: datetime.datetime) -> str:
    moment = timefmt.parse_time(stamp)
    if moment is None:
        return "-"
    return f"in {_age(max((moment - now).total_seconds(), 0))}"


def cmd_next(session: Session) -> int:
    model = session.model()
    document = views.queue(model, session.namespace, session.args.plan)
    ns = ["NAMESPACE"] if session.all else []

    def render() -> str:
        out = []
        if document["ready"]:
            out.append("Ready, in the order the operator starts them:\n")
            out.append(table(
                ["#", *ns, "TASK", "PLAN", "PRIORITY", "PROFILE", "STARTS"],
                [[e["position"], *([e["namespace"]] if session.all else []), e["taskId"],
                  e["plan"], e["priority"], e["profile"],
                  "now" if e["startsNow"] else (e["message"] or "waiting")]
                 for e in document["ready"]],
            ))
        else:
            out.append("No task is ready.\n")
        if document["waiting"]:
            out.append("\nWaiting:\n")
            out.append(table(
                [*ns, "TASK", "PLAN", "PHASE", "REASON", "WHY"],
                [[*([e["namespace"]] if session.all else []), e["taskId"], e["plan"], e["phase"],
                  e["reason"], e["message"]] for e in document["waiting"]],
            ))
        return "".join(out)

    emit(session.args, document, render)
    return 0


def cmd_agents(session: Session) -> int:
    model = session.model()
    document = views.agents(model, session.namespace)
    rows = [
        [*([a["namespace"]] if session.all else []), a["taskId"], a["plan"], a["profile"],
         a["attempt"], _age(a["ageSeconds"]), a["pod"] or f"(Job {a['job']})"]
        for a in document["items"]
    ]
    headers = [*(["NAMESPACE"] if session.all else []), "TASK", "PLAN", "PROFILE", "ATTEMPT",
               "AGE", "POD"]
    emit(session.args, document, lambda: table(headers, rows) if rows else "no agent is running\n")
    return 0


def cmd_recent(session: Session) -> int:
    if session.args.count < 0:
        raise Failure("N must be 0 or more")
    model = session.model()
    document = views.recent(model, session.args.count, session.namespace)
    rows = [
        [*([c["namespace"]] if session.all else []), c["taskId"], c["plan"], c["attempt"],
         c["outcome"], c["reason"], _age(c["durationSeconds"]),
         f"{_since(c['completionTime'], model.now)} ago"]
        for c in document["items"]
    ]
    headers = [*(["NAMESPACE"] if session.all else []), "TASK", "PLAN", "ATTEMPT", "OUTCOME",
               "REASON", "DURATION", "FINISHED"]
    emit(session.args, document, lambda: table(headers, rows) if rows else "nothing finished yet\n")
    return 0


def cmd_graph(session: Session) -> int:
    scope = session.plan_scope(session.args.plan)
    model = session.model()
    document = views.plan(model, *scope)
    assert document is not None
    rows = document["tasks"]
    form = session.args.format
    if form == "dot":
        sys.stdout.write(graphs.dot(rows, scope[1]))
    elif form == "mermaid":
        sys.stdout.write(graphs.mermaid(rows))
    else:
        emit(session.args, document, lambda: graphs.tree(rows) or "the plan has no tasks\n")
    return 0


def cmd_logs(session: Session) -> int:
    key = session.task(session.args.task, session.args.plan)
    model = session.model()
    record, pod = views.attempt_pod(model, key)
    if record is None:
        raise Failure(f"task {key[0]}/{key[1]} has no attempt yet")
    if pod is None:
        raise Failure(
            f"the pod of attempt {record.number} (Job {record.job}) no longer exists: "
            "its log is gone (the Job's TTL removes finished attempts)"
        )
    redactor = redact.Redactor()
    tail = session.args.tail
    if session.args.follow:
        for line in session.client.follow_log(
            pod.namespace, pod.name, container=kube.AGENT_CONTAINER, tail_lines=tail
        ):
            print(redactor(line), flush=True)
        return 0
    text = session.client.pod_log(
        pod.namespace, pod.name, container=kube.AGENT_CONTAINER, tail_lines=tail, timeout=30
    )
    for line in text.splitlines():
        print(redactor(line))
    return 0


def cmd_describe(session: Session) -> int:
    key = session.task(session.args.task, session.args.plan)
    model = session.model()
    document = views.task(model, key, None)
    document.pop("log")
    emit(session.args, document, lambda: describe(document, model.now))
    return 0


def describe(d: dict[str, Any], now: datetime.datetime) -> str:
    spec, status, ready = d["spec"], d["status"], d["readiness"]
    lines = [
        f"Name:           {d['namespace']}/{d['name']}",
        f"Task ID:        {spec['taskId']}",
        f"Title:          {spec.get('title', '')}",
        f"Plan:           {d['plan']}",
        f"Priority:       {spec.get('priority', 'P2')}",
        f"Profile:        {status.get('agentProfile') or spec.get('agentProfile') or '-'}"
        + (f" ({status['matchedRule']})" if status.get("matchedRule") else ""),
        f"Depends on:     {', '.join(spec.get('dependsOn') or []) or '-'}",
    ]
    if spec.get("gates"):
        lines.append(f"Gates:          {'; '.join(spec['gates'])}")
    if spec.get("suspend"):
        lines.append("Suspended:      true")
    lines += [
        f"Phase:          {ready['phase']}",
        f"Why:            {ready['reason'] or '-'}: {ready['message'] or '-'}",
        f"Blocked by:     {', '.join(ready['blockedBy']) or '-'}",
    ]
    if ready["queuePosition"]:
        lines.append(f"Queue position: {ready['queuePosition']}")
    lines.append(f"Attempts:       {status.get('attempts', 0)}")
    if d["attempts"]:
        lines.append(
            "  " + table(
                ["#", "JOB", "OUTCOME", "REASON", "STARTED", "DURATION"],
                [[a["number"], a["job"], a["outcome"], a["reason"],
                  f"{_since(a['startTime'], now)} ago", _age(a["durationSeconds"])]
                 for a in d["attempts"]],
            ).rstrip("\n").replace("\n", "\n  ")
        )
    result = d["result"]
    if result:
        lines += [
            "Result:",
            f"  Summary:      {result.get('summary', '')}",
            f"  Files:        {', '.join(result.get('filesChanged') or []) or '-'}",
            f"  Tests passed: {result.get('testsPassed', '-')}",
            f"  Branch:       {result.get('branch') or '-'}  commit {result.get('commit') or '-'}",
            f"  Tokens:       {result.get('inputTokens', 0):,} in, "
            f"{result.get('outputTokens', 0):,} out",
            f"  Cost:         {_money(result.get('costUSD', 0.0))}",
        ]
        if result.get("prUrl"):
            lines.append(f"  Pull request: {result['prUrl']}")
        if result.get("reason"):
            lines.append(f"  Reason:       {result['reason']}")
    if status.get("conditions"):
        lines.append("Conditions:")
        lines.append(
            "  " + table(
                ["TYPE", "STATUS", "REASON", "MESSAGE"],
                [[c["type"], c["status"], c.get("reason"), c.get("message")]
                 for c in status["conditions"]],
            ).rstrip("\n").replace("\n", "\n  ")
        )
    lines.append("Events:" + ("" if d["events"] else "         <none>"))
    if d["events"]:
        lines.append(
            "  " + table(
                ["TYPE", "REASON", "AGE", "MESSAGE"],
                [[e["type"], e["reason"], _since(e["lastTime"], now), e["message"]]
                 for e in d["events"]],
            ).rstrip("\n").replace("\n", "\n  ")
        )
    return "\n".join(lines) + "\n"


def _patch_task(session: Session, key: views.Key, spec: dict[str, Any]) -> None:
    session.client.merge_patch(kube.TASKS, key[0], key[1], {"spec": spec}, manager=MANAGER)


def cmd_rerun(session: Session) -> int:
    key = session.task(session.args.task, session.args.plan)
    found = session.model().tasks[key]
    phase = found.status.phase
    if phase not in ("Succeeded", "Failed", "Cancelled", "AwaitingReview", "Rejected"):
        raise Failure(
            f"task {key[0]}/{key[1]} is {phase or 'Pending'}: only a finished task "
            "(Succeeded, Failed, Cancelled, AwaitingReview or Rejected) can be rerun"
        )
    if found.spec.done:
        raise Failure(
            f"task {key[0]}/{key[1]} is marked done (spec.done): untick its box in the "
            "markdown, or set spec.done to false, to run it again"
        )
    value = timefmt.format_time(session.now())
    _patch_task(session, key, {"rerun": value})
    print(f"agenttask {key[0]}/{key[1]} rerun requested (spec.rerun={value})")
    return 0


def cmd_suspend(session: Session) -> int:
    key = session.task(session.args.task, session.args.plan)
    _patch_task(session, key, {"suspend": True})
    print(f"agenttask {key[0]}/{key[1]} suspended")
    return 0


def cmd_pause(session: Session) -> int:
    return _set_paused(session, session.args.plan, True)


def _set_paused(session: Session, name: str, paused: bool) -> int:
    scope = session.plan_scope(name)
    if scope not in session.model().snapshot.plans:
        raise Failure(
            f"plan {name!r} has no AgentPlan object in namespace {scope[0]!r} (its tasks "
            f"name it, or have none): create one to {'pause' if paused else 'resume'} it"
        )
    session.client.merge_patch(
        kube.PLANS, scope[0], name, {"spec": {"paused": paused}}, manager=MANAGER
    )
    print(f"agentplan {scope[0]}/{name} {'paused' if paused else 'resumed'}")
    return 0


def cmd_resume(session: Session) -> int:
    """`resume task/NAME`, `resume plan/NAME`, or a bare name that is one or the other."""
    ref: str = session.args.target
    kind, _, name = ref.partition("/") if "/" in ref else ("", "", ref)
    if kind in ("plan", "agentplan", "aplan"):
        return _set_paused(session, name, False)
    if kind in ("task", "agenttask", "atask"):
        key = session.task(name, session.args.plan)
    elif kind:
        raise Failure(f"{ref!r}: name a task/NAME or a plan/NAME")
    else:
        model = session.model()
        is_plan = any(s[1] == name and session.namespace in (None, s[0])
                      for s in model.snapshot.plans)
        try:
            key = session.task(name, session.args.plan)
        except Failure:
            if is_plan:
                return _set_paused(session, name, False)
            raise
        if is_plan:
            raise Failure(
                f"{name!r} names both a task and a plan: say task/{name} or plan/{name}"
            )
    _patch_task(session, key, {"suspend": False})
    print(f"agenttask {key[0]}/{key[1]} resumed")
    return 0


# --------------------------------------------------------------------------- the parser


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--kubeconfig", help="default: KUBECONFIG, else ~/.kube/config")
    common.add_argument("--context", help="the kubeconfig context to use")
    common.add_argument("-n", "--namespace", help="default: the context's namespace")
    common.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    common.add_argument("-o", "--output", choices=["table", "json", "yaml"], help="default table")
    common.add_argument("--request-timeout", type=float, help="seconds per API request (30)")
    common.add_argument(
        "--max-concurrent", type=int,
        help="the operator's global cap, for `next` (its AGENT_OPERATOR_MAX_CONCURRENT; 5)",
    )

    parser = _Parser(
        prog=prog, parents=[common],
        description="Plans, agents and the queue of agent-orchestrator, from a terminal.",
    )
    commands: Any = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    def add(name: str, func: Callable[[Session], int], help: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, parents=[common], help=help, description=help
        )
        sub.set_defaults(func=func)
        return sub

    add("status", cmd_status, "plans: progress, running, failed, circuit, spend")
    nxt = add("next", cmd_next, "what starts next, and why the rest waits")
    nxt.add_argument("--plan", help="only this plan")
    add("agents", cmd_agents, "running attempts: task, profile, age, pod")
    rec = add("recent", cmd_recent, "the last N finished attempts (default 10)")
    rec.add_argument("count", nargs="?", type=int, default=10, metavar="N")
    gr = add("graph", cmd_graph, "a plan's dependency graph")
    gr.add_argument("plan", metavar="PLAN")
    gr.add_argument("--format", choices=["text", "dot", "mermaid"], default="text")
    lg = add("logs", cmd_logs, "the current or last attempt's log (redacted)")
    lg.add_argument("task", metavar="TASK", help="object name or task ID")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    lg.add_argument("--tail", type=int, default=-1, help="last N lines (default: all)")
    for name, func, text in (
        ("describe", cmd_describe, "a task: readiness, attempts, result, conditions, Events"),
        ("rerun", cmd_rerun, "run a finished task again (sets spec.rerun)"),
        ("suspend", cmd_suspend, "suspend a task (cancels its running attempt)"),
    ):
        sub = add(name, func, text)
        sub.add_argument("task", metavar="TASK", help="object name or task ID")
    subs: list[argparse.ArgumentParser] = [lg]
    subs += [commands.choices[n] for n in ("describe", "rerun", "suspend")]
    for sub in subs:
        sub.add_argument("--plan", help="with a task ID: the plan it belongs to")
    res = add("resume", cmd_resume, "resume a suspended task or a paused plan")
    res.add_argument("target", metavar="TASK|PLAN", help="a name, or task/NAME, plan/NAME")
    res.add_argument("--plan", help="with a task ID: the plan it belongs to")
    pause = add("pause", cmd_pause, "pause a plan (spec.paused): no new attempts start")
    pause.add_argument("plan", metavar="PLAN")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    if getattr(args, "namespace", None) and getattr(args, "all_namespaces", False):
        print(f"{prog}: error: -n and -A exclude each other", file=sys.stderr)
        return 2
    try:
        session = Session(args)
        code: int = args.func(session)
        return code
    except (Failure, kube.KubeError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
    except ApiException as error:
        print(f"{prog}: error: {kube.describe(error)}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # e.g. the API server is unreachable
        print(f"{prog}: error: {kube.describe(error)}", file=sys.stderr)
    return 1


def kubectl_main() -> int:
    """`kubectl agents ...`: kubectl finds `kubectl-agents` on PATH."""
    return main(prog="kubectl agents")


if __name__ == "__main__":
    sys.exit(main())
