"""Prometheus metrics of the operator, served on /metrics.

All names start with `agent_operator_`; labels are bounded (namespaces, plans and profiles
are objects people create, phases and outcomes are fixed sets; no task names):

- `agent_operator_tasks{namespace, plan, phase}` (gauge): tasks per phase.
- `agent_operator_running_agents{namespace, profile}` (gauge): attempts running.
- `agent_operator_dispatch_latency_seconds{namespace}` (histogram): from the moment the
  operator saw a task ready (or its retry became due) to its Job's creation.
- `agent_operator_attempt_duration_seconds{namespace, outcome}` (histogram): Job start to end.
- `agent_operator_attempts_total{namespace, profile, outcome, reason}` (counter): finished
  attempts; reason is one of the reasons of `agent_api.failures` (the runner's and the
  operator's), Suspended, MarkedDone or Other. The not-started reasons start at 0 for
  each profile with a running attempt, so that `increase()` sees their first attempt.
- `agent_operator_retries_total{namespace, plan}` (counter): retries scheduled.
- `agent_operator_circuit_state{namespace, plan, state}` (gauge): 1 for the breaker's state.
- `agent_operator_tokens_total{namespace, profile, direction}` (counter): model tokens the
  finished attempts reported; direction is input or output.
- `agent_operator_cost_usd_total{namespace, profile}` (counter): their estimated cost.
- `agent_operator_plan_budget_remaining_usd{namespace, plan, window}` (gauge): what is left
  of a plan's budget (window `total` or `daily`) after the recorded spend and the running
  attempts' reservations; only for plans (and the tasks without a plan, plan "") whose
  spec.budget sets that window.
- `agent_operator_plan_budget_used_ratio{namespace, plan, window}` (gauge): the part of it
  the recorded spend used (reservations not counted; 1 and above: no attempt starts).
- `agent_operator_pull_requests_total{namespace, plan, outcome}` (counter): pull requests
  successful attempts reported (outcome `reported`), and those of tasks awaiting review
  seen merged (`merged`) or closed without merge (`rejected`).
- `agent_operator_review_seconds{namespace, outcome}` (histogram): from the attempt that
  reported the pull request to its merge (`merged`) or rejection (`rejected`).
- `agent_operator_dispatch_pass_seconds` (histogram): time of one scheduling pass.
- `agent_operator_leader` (gauge): 1 while this replica dispatches.
"""

from __future__ import annotations

import prometheus_client
from agent_api import failures

from agent_operator.scheduling import reasons

REGISTRY = prometheus_client.CollectorRegistry()
_KNOWN_REASONS = frozenset(
    [
        *failures.REASON_BY_EXIT_CODE.values(),
        failures.DEADLINE_EXCEEDED,
        failures.JOB_DELETED,
        failures.POD_DELETED,
        failures.JOB_FAILED,
        failures.DISRUPTED,
        failures.OUT_OF_MEMORY,
        failures.NO_PULL_REQUEST,
        *failures.NOT_STARTED,
        reasons.CANCELLED_SUSPENDED,
        reasons.CANCELLED_MARKED_DONE,
    ]
)
_FAST = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

TASKS = prometheus_client.Gauge(
    "agent_operator_tasks",
    "AgentTasks per phase.",
    ["namespace", "plan", "phase"],
    registry=REGISTRY,
)
RUNNING = prometheus_client.Gauge(
    "agent_operator_running_agents",
    "Attempts running.",
    ["namespace", "profile"],
    registry=REGISTRY,
)
DISPATCH_LATENCY = prometheus_client.Histogram(
    "agent_operator_dispatch_latency_seconds",
    "From a task becoming ready to its attempt Job being created.",
    ["namespace"],
    buckets=_FAST,
    registry=REGISTRY,
)
ATTEMPT_DURATION = prometheus_client.Histogram(
    "agent_operator_attempt_duration_seconds",
    "Duration of finished attempts.",
    ["namespace", "outcome"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400),
    registry=REGISTRY,
)
ATTEMPTS = prometheus_client.Counter(
    "agent_operator_attempts",
    "Finished attempts by profile, outcome and reason.",
    ["namespace", "profile", "outcome", "reason"],
    registry=REGISTRY,
)
RETRIES = prometheus_client.Counter(
    "agent_operator_retries",
    "Retries scheduled after a failed attempt.",
    ["namespace", "plan"],
    registry=REGISTRY,
)
CIRCUIT = prometheus_client.Gauge(
    "agent_operator_circuit_state",
    "1 for the current state of each plan's circuit breaker.",
    ["namespace", "plan", "state"],
    registry=REGISTRY,
)
TOKENS = prometheus_client.Counter(
    "agent_operator_tokens",
    "Model tokens reported by finished attempts.",
    ["namespace", "profile", "direction"],
    registry=REGISTRY,
)
COST = prometheus_client.Counter(
    "agent_operator_cost_usd",
    "Estimated cost in US dollars reported by finished attempts.",
    ["namespace", "profile"],
    registry=REGISTRY,
)
BUDGET_REMAINING = prometheus_client.Gauge(
    "agent_operator_plan_budget_remaining_usd",
    "What is left of a plan's budget (total or daily) after recorded spend and reservations.",
    ["namespace", "plan", "window"],
    registry=REGISTRY,
)
BUDGET_USED = prometheus_client.Gauge(
    "agent_operator_plan_budget_used_ratio",
    "Part of a plan's budget (total or daily) the recorded spend used.",
    ["namespace", "plan", "window"],
    registry=REGISTRY,
)
PULL_REQUESTS = prometheus_client.Counter(
    "agent_operator_pull_requests",
    "Pull requests reported by successful attempts, and merged or rejected after review.",
    ["namespace", "plan", "outcome"],
    registry=REGISTRY,
)
REVIEW_SECONDS = prometheus_client.Histogram(
    "agent_operator_review_seconds",
    "From the attempt that reported a pull request to its merge or rejection.",
    ["namespace", "outcome"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
    registry=REGISTRY,
)
PASS_SECONDS = prometheus_client.Histogram(
    "agent_operator_dispatch_pass_seconds",
    "Duration of one scheduling pass.",
    buckets=_FAST,
    registry=REGISTRY,
)
LEADER = prometheus_client.Gauge(
    "agent_operator_leader",
    "1 while this replica is the one that dispatches.",
    registry=REGISTRY,
)


def clear_leader_gauges() -> None:
    """Drops the gauges only the dispatching replica keeps current (tasks, running agents,
    circuit state, budgets), so that a replica that lost the lead stops reporting old values and
    sums across replicas stay right."""
    for gauge in (TASKS, RUNNING, CIRCUIT, BUDGET_REMAINING, BUDGET_USED):
        gauge.clear()


def reason_label(reason: str | None) -> str:
    """A bounded label value for a failure reason."""
    if reason is None:
        return ""
    return reason if reason in _KNOWN_REASONS else "Other"


def serve(port: int, address: str) -> None:
    """Starts the /metrics server in a background thread."""
    prometheus_client.start_http_server(port, addr=address, registry=REGISTRY)
