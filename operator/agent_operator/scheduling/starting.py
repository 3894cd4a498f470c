"""Starting an attempt: the runner's context, the Job, and the status that records it; and
the status to write instead when the API server refuses the Job."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from agent_api import attempt, models, timefmt

from agent_operator import conditions, jobs, routing
from agent_operator.scheduling import attempts, budgets, reasons
from agent_operator.scheduling.decisions import REFUSED_CREATE_RETRY, Dispatch
from agent_operator.scheduling.progress import HISTORY_LIMIT, TaskProgress, working_copy
from agent_operator.scheduling.snapshot import Config


def attempt_context(
    task: TaskProgress,
    route: routing.Route,
    number: int,
    members: Mapping[str, TaskProgress],
    allowance: budgets.Allowance | None = None,
) -> attempt.AttemptContext:
    """What the runner is told besides the task: profile, dependencies, previous failure."""
    assert route.spec is not None  # a task without its profile is blocked, never started
    dependencies = [
        attempt.DependencyResult(
            task_id=dep,
            title=other.spec.title,
            summary=other.status.result.summary if other.status.result else "",
        )
        for dep in task.spec.depends_on
        if (other := members.get(dep)) is not None
    ]
    status = task.status
    previous = None
    if status.history and status.history[-1].outcome == "Failed":
        previous = attempt.PreviousFailure(
            reason=status.history[-1].reason or "Failed",
            summary=status.result.summary if status.result else "",
        )
    return attempt.AttemptContext(
        profile=attempt.ProfileContext(
            name=route.profile_name,
            model=route.spec.model,
            system_prompt=route.spec.system_prompt,
            max_tokens=route.spec.max_tokens,
            max_turns=route.spec.max_turns,
            expect_changes=route.spec.expect_changes,
        ),
        attempt=number,
        previous_failure=previous,
        dependencies=dependencies,
        verify=route.spec.verify + task.spec.verify,
        budget=attempt.AttemptBudget(
            max_cost_usd=allowance.cost_usd,
            max_tokens=allowance.tokens,
            basis=list(allowance.basis),
        )
        if allowance is not None
        else attempt.AttemptBudget(),
    )


def memory_factor(profile: models.AgentProfileSpec, status: models.AgentTaskStatus) -> float:
    """The profile's retryMemoryFactor once for each out-of-memory attempt in a row."""
    if profile.retry_memory_factor is None:
        return 1.0
    return float(profile.retry_memory_factor ** attempts.out_of_memory_in_a_row(status))


def start_attempt(
    task: TaskProgress,
    route: routing.Route,
    members: Mapping[str, TaskProgress],
    config: Config,
    now: datetime.datetime,
    *,
    allowance: budgets.Allowance | None = None,
) -> Dispatch:
    """Starts the next attempt: the Job to create and the status that records it; the
    attempt record keeps the allowance it reserves of its plan's budget."""
    assert route.spec is not None
    status = task.status
    before = working_copy(status)
    number = max((r.number for r in status.history), default=0) + 1
    job_inputs = jobs.JobInputs(
            task=task.entry.raw,
            attempt=number,
            profile_name=route.profile_name,
            profile=route.spec,
            api_key=task.plan_spec.api_key_secret,
            plan_name=task.spec.plan or "",
            context=attempt_context(task, route, number, members, allowance),
            ttl_seconds=config.job_ttl_seconds,
            created_by=config.identity,
            memory_factor=memory_factor(route.spec, status),
        )
    manifest = jobs.build(job_inputs)
    name = manifest["metadata"]["name"]
    queued = timefmt.parse_time(status.queued_time)
    latency = (now - queued).total_seconds() if queued else None
    status.attempts += 1
    status.current_job = name
    status.history.append(
        models.AttemptRecord(
            number=number,
            job=name,
            start_time=timefmt.format_time(now),
            allowance_usd=allowance.cost_usd if allowance is not None else None,
        )
    )
    del status.history[:-HISTORY_LIMIT]
    status.start_time = status.start_time or timefmt.format_time(now)
    status.next_attempt_time = None
    status.observed_rerun = task.spec.rerun
    status.blocked_by = []
    task.set_phase("Running", f"attempt {number} running in Job {name}")
    task.ready(reasons.DEPENDENCIES_MET, "dependencies met; dispatched", now)
    task.set_condition(
        conditions.SUCCEEDED, "Unknown", reasons.RUNNING, f"attempt {number} running", now
    )
    task.running = True
    return Dispatch(
        key=task.entry.key,
        job=manifest,
        profile=route.profile_name,
        scope=task.scope,
        latency_seconds=latency,
        status_before=before,
        generation=task.meta.generation,
        retry_at=now + REFUSED_CREATE_RETRY,
        context=jobs.build_context(job_inputs),
    )


def status_after_refused_create(
    dispatch: Dispatch, error: str, now: datetime.datetime
) -> models.AgentTaskStatus:
    """The task's status when its Job could not be created: queued, with the API's answer,
    against the generation the pass read. The next pass is due at `dispatch.retry_at`."""
    status = dispatch.status_before.model_copy(deep=True)
    status.phase = "Queued"
    status.message = f"could not create the attempt Job: {error}"[:4096]
    status.conditions = conditions.set_condition(
        status.conditions,
        type=conditions.READY,
        status="True",
        reason=reasons.JOB_CREATE_FAILED,
        message=status.message,
        generation=dispatch.generation,
        now=now,
    )
    return status
