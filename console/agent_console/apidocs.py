"""Writes docs/dashboard.md: the dashboard's guide and its API reference, the latter
generated from the OpenAPI schema the dashboard publishes.

    python -m agent_console.apidocs > docs/dashboard.md

`make verify` (hack/generate.sh --check) fails when the file is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from agent_console import views

GUIDE = """\
# Dashboard

`agent-dashboard` is a read-only web dashboard and REST API over the plans, tasks,
running agents and queue. It serves the page at `/` and the API at `/api/v1` from a
cache fed by watches (one list, then a watch, per kind and namespace; never a list per
request), and recomputes its view within about 50 ms of a change. An open page gets each
change over Server-Sent Events (`/api/v1/stream`) and refreshes what it shows without a
reload. For the terminal, see [agentctl](cli.md).

![A plan in the dashboard: the dependency graph coloured by phase, the path that blocks
the selected task highlighted, failures, running agents](images/dashboard-plan.png)

## Run it

On a cluster, the chart deploys it (`dashboard.enabled`, on by default; see
[configuration.md](configuration.md)) with a ServiceAccount that may only read. Reach it
through a port-forward:

<!-- doc-test: skip (a port-forward needs a pod that serves: kwok's pods run nothing) -->
```sh
kubectl -n agent-orchestrator port-forward svc/agent-orchestrator-dashboard 8080:80
# then open http://127.0.0.1:8080/
```

On your machine, against the cluster your kubeconfig names:

<!-- doc-test: skip (a server that runs until stopped; the console tests start it) -->
```sh
agent-dashboard --namespace my-team              # http://127.0.0.1:8080/
agent-dashboard -n team-a -n team-b --port 9000
agent-dashboard --all-namespaces --max-concurrent 10
```

| Flag | Default | Meaning |
|---|---|---|
| `-n`, `--namespace NS` | the kubeconfig context's | a namespace to watch; repeat for more |
| `-A`, `--all-namespaces` | | watch every namespace (needs cluster-wide read access) |
| `--port` | `8080` | the port |
| `--listen-address` | `127.0.0.1` | the address; the chart sets `0.0.0.0` inside the pod |
| `--max-concurrent` | `5` | the operator's global cap (`operator.maxConcurrent`), for the queue |
| `--fallback-profile` | `general-purpose` | the operator's fallback profile |
| `--kubeconfig`, `--context` | `KUBECONFIG`, the current context | which cluster |
| `--log-level` | `info` | `debug`, `info` or `warning` |

`make demo` starts one beside the operator and prints its URL.

## What it shows

Tasks without `spec.plan` appear as the plan `-` of their namespace (a name no AgentPlan
can have: the operator keeps them apart from any plan too).

- **Plans**: progress, counts by phase, running and failed tasks, the circuit breaker,
  tokens and cost so far, tasks per hour and an ETA; running agents; recent completions.
- **A plan**: its dependency graph (nodes coloured by phase; click a task to highlight
  the chain of unfinished dependencies that blocks it, double-click to open it; scroll
  to zoom, drag to pan; drawn for plans of 500 tasks and more), a timeline of attempts,
  the running agents, failures with their reasons, spend.
- **A task**: why it is where it is, its spec, attempts with outcome, reason and
  duration, the result (summary, files, tests, branch and commit, tokens, cost), its
  conditions, its Events, and the redacted tail of the current or last attempt's log.

## Where the answers come from

- **Why a task waits and what starts next** are the operator's own decision: the
  dashboard keeps the operator's cache type (`agent_operator.store`) and runs the
  operator's pure `scheduling.decide` over it, with the operator's cap and fallback
  profile from its flags. A waiting task's reason is the `Ready` condition that decision
  gives it (`WaitingForDependencies`, `DependencyFailed`, `DependencyMissing`, `Cycle`,
  `Gated`, `Suspended`, `PlanPaused`, `ProfileNotFound`, `CircuitOpen`); the ready tasks
  are listed in the order the operator starts them (P0 first, then oldest), with
  `startsNow` for those a free slot lets start on the next pass.
- **Secrets it cannot see.** The dashboard may not read Secrets, so it treats every API
  key Secret as present: a task blocked only by a missing Secret (`SecretMissing`)
  appears as ready here; the operator's own status says otherwise.
- **Tokens and cost** add up each task's last result (the report of its last attempt);
  earlier failed attempts of a task are not in the sum. Prometheus has every attempt
  (`agent_orchestrator_tokens_total`, see [monitoring.md](monitoring.md)).
- **The rate and ETA**: successes per hour over the last hour (or since the plan's first
  start, if later), and the remaining tasks at that rate.
- **Logs** are the one thing read at request time: the last 200 lines of the attempt
  pod's `agent` container, passed through the runner's redactor (API keys, tokens,
  credentials in URLs). Once the Job's TTL removes a finished attempt, its log is gone.

## Behind an Ingress with an OAuth proxy

The page has no login of its own, so expose it only behind an authenticating proxy,
for example oauth2-proxy in front of the Service:

```yaml
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: agent-dashboard
  namespace: agent-orchestrator
  annotations:
    nginx.ingress.kubernetes.io/auth-url: "https://$host/oauth2/auth"
    nginx.ingress.kubernetes.io/auth-signin: "https://$host/oauth2/start?rd=$escaped_request_uri"
    # Server-Sent Events: no buffering, long reads
    nginx.ingress.kubernetes.io/proxy-buffering: "off"
    nginx.ingress.kubernetes.io/proxy-read-timeout: "3600"
spec:
  ingressClassName: nginx
  tls:
    - hosts: [agents.example.com]
      secretName: agents-example-com-tls
  rules:
    - host: agents.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: agent-orchestrator-dashboard
                port: {number: 80}
```

with oauth2-proxy (its own chart) serving `/oauth2` on the same host and allowing your
organisation's group. On GKE, Identity-Aware Proxy on a GCE Ingress does the same.
The chart's NetworkPolicy lets traffic in on the dashboard's port only.

## Security

- Read-only: its RBAC is get, list and watch on tasks, plans, profiles, Jobs, pods, pod
  logs and Events. It cannot read Secrets or change anything (`agentctl` makes the few
  changes, with the caller's own credentials).
- No Secret value is ever shown: the API shows references (Secret names and keys) only,
  and log lines pass through the redactor.
- The page loads nothing from a CDN: its JavaScript (Vue, pinned in
  `console/web/package-lock.json`) is built into the Python package and the image.
"""


def _ref(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_ref(s) for s in schema["anyOf"])
    kind = schema.get("type", "object")
    if kind == "array":
        return f"[]{_ref(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map[string]{_ref(schema['additionalProperties'])}"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    return str(kind)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def reference(spec: dict[str, Any]) -> str:
    out = ["## API reference", "",
           f"Generated from the OpenAPI schema the dashboard serves at "
           f"`{spec.get('x-openapi-path', '/api/v1/openapi.json')}` "
           f"({spec['info']['title']} {spec['info']['version']}). Every answer is JSON with "
           "the CRDs' field names; an unknown plan or task is a 404 with `detail`.", ""]
    out += ["| Method | Path | What |", "|---|---|---|"]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out.append(f"| {method.upper()} | `{path}` | {_cell(op.get('summary', ''))} |")
    out.append("")
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out += [f"### {method.upper()} {path}", "", op.get("description", "").strip(), ""]
            params = op.get("parameters") or []
            if params:
                out += ["| Parameter | In | Type | Default | Meaning |", "|---|---|---|---|---|"]
                for p in params:
                    schema = p.get("schema", {})
                    default = schema.get("default")
                    out.append(
                        f"| `{p['name']}` | {p['in']} | {_ref(schema)} | "
                        f"{'' if default is None else f'`{default}`'} | "
                        f"{_cell(p.get('description', ''))} |"
                    )
                out.append("")
            content = op.get("responses", {}).get("200", {}).get("content", {})
            for media, body in content.items():
                schema = body.get("schema")
                if schema and schema != {}:
                    out += [f"Answer (`{media}`): {_ref(schema)}.", ""]
                elif media == "text/event-stream":
                    out += ["Answer: `text/event-stream`.", ""]
    out += ["## Schemas", ""]
    for name, schema in sorted(spec["components"]["schemas"].items()):
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        out += [f"### {name}", ""]
        if schema.get("description"):
            out += [_cell(schema["description"]), ""]
        props = schema.get("properties") or {}
        if props:
            required = set(schema.get("required") or [])
            out += ["| Field | Type | Required | Meaning |", "|---|---|---|---|"]
            for field, node in props.items():
                out.append(
                    f"| `{field}` | {_ref(node)} | {'yes' if field in required else ''} | "
                    f"{_cell(node.get('description', ''))} |"
                )
            out.append("")
        elif "enum" in schema:
            out += [f"One of {_ref(schema)}.", ""]
    return "\n".join(out).rstrip() + "\n"


class _NoModel:
    """The schema needs no cluster: a source that is never read."""

    def model(self) -> views.Model:
        raise RuntimeError("not used for the schema")

    def listen(self, callback: Callable[[int], None]) -> None:
        return None


def openapi() -> dict[str, Any]:
    from agent_console import app

    schema: dict[str, Any] = app.create_app(_NoModel()).openapi()
    return schema


def main() -> int:
    sys.stdout.write(GUIDE + "\n" + reference(openapi()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
