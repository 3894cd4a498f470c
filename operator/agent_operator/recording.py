"""Translating a pass's decision into the metrics (declared in agent_operator.metrics)."""

from __future__ import annotations

from agent_api import failures

from agent_operator import metrics, scheduling
from agent_operator.scheduling.snapshot import plan_label


def record_pass(decision: scheduling.Decision) -> None:
    """Gauges from the whole pass; counters from the attempts it saw end."""
    metrics.TASKS.clear()
    for (namespace, plan, phase), count in decision.phase_counts.items():
        metrics.TASKS.labels(namespace, plan, phase).set(count)
    metrics.RUNNING.clear()
    for (namespace, profile), count in decision.running_by_profile.items():
        metrics.RUNNING.labels(namespace, profile).set(count)
        # A running attempt may end unstarted, no sooner than its start timeout: its
        # series exist at 0 before then, so increase() counts the first one too.
        for reason in sorted(failures.NOT_STARTED):
            metrics.ATTEMPTS.labels(namespace, profile, "Failed", reason)
    for finished in decision.finished:
        _record_finished(finished)
    metrics.BUDGET_REMAINING.clear()
    metrics.BUDGET_USED.clear()
    for (scope, window), (limit, recorded, reserved) in decision.budgets.items():
        labels = (scope[0], plan_label(scope[1]), window)
        left = max(0.0, round(limit - recorded - reserved, 4))
        metrics.BUDGET_REMAINING.labels(*labels).set(left)
        metrics.BUDGET_USED.labels(*labels).set(recorded / limit if limit > 0 else 1.0)
    for review in decision.reviews:
        namespace, plan = review.scope[0], plan_label(review.scope[1])
        metrics.PULL_REQUESTS.labels(namespace, plan, review.outcome).inc()
        if review.seconds_under_review is not None:
            metrics.REVIEW_SECONDS.labels(namespace, review.outcome).observe(
                max(0.0, review.seconds_under_review)
            )
    metrics.CIRCUIT.clear()
    for scope, plan_status in decision.plan_statuses.items():
        for state in ("Closed", "Open", "HalfOpen"):
            metrics.CIRCUIT.labels(scope[0], plan_label(scope[1]), state).set(
                1 if plan_status.circuit.state == state else 0
            )


def _record_finished(finished: scheduling.FinishedAttempt) -> None:
    namespace = finished.scope[0]
    metrics.ATTEMPTS.labels(
        namespace, finished.profile, finished.outcome, metrics.reason_label(finished.reason)
    ).inc()
    if finished.duration_seconds is not None:
        metrics.ATTEMPT_DURATION.labels(namespace, finished.outcome).observe(
            max(0.0, finished.duration_seconds)
        )
    if finished.retried:
        metrics.RETRIES.labels(namespace, plan_label(finished.scope[1])).inc()
    if finished.input_tokens or finished.output_tokens:
        tokens = metrics.TOKENS.labels
        tokens(namespace, finished.profile, "input").inc(finished.input_tokens)
        tokens(namespace, finished.profile, "output").inc(finished.output_tokens)
        metrics.COST.labels(namespace, finished.profile).inc(finished.cost_usd)
