"""Readiness: whether a task may run now, as a chain of small pure checks.

Each check looks at one thing (suspended, plan missing, plan paused, cycle, dependencies,
gates, profile, the profile's limits, URLs, secrets, budget) and returns a `Block` with a reason
constant, a message saying what to do, and the IDs or gates that hold the task; the first
block wins. `required_secrets` is the one rule for which Secret keys a task's Jobs
reference: the gatherer fetches exactly those Secrets, and the secrets check reads exactly
those. What is allowed is `policy`'s (the operator's settings).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Mapping

from agent_api import forge, models

from agent_operator import routing
from agent_operator.scheduling import budgets, reasons
from agent_operator.scheduling import policy as policy_module
from agent_operator.scheduling.progress import DependencyScope, TaskProgress
from agent_operator.scheduling.snapshot import PlanScope

SECRET_RECHECK = datetime.timedelta(seconds=10)  # a missing Secret is looked up again


@dataclasses.dataclass(frozen=True)
class Block:
    """Why a task may not run now."""

    reason: str
    message: str
    blocked_by: list[str] = dataclasses.field(default_factory=list)
    recheck_after: datetime.timedelta | None = None  # ask for a pass this soon


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What the checks read besides the task itself."""

    members: Mapping[DependencyScope, Mapping[str, TaskProgress]]  # task ID -> task, per scope
    cycles: Mapping[DependencyScope, Mapping[str, tuple[str, ...]]]  # task ID -> its cycle
    # (ns, Secret) -> what was read of it (None: absent or unreadable); None: not read at
    # all (the dashboard), and the check is skipped
    secrets: Mapping[tuple[str, str], policy_module.SecretMeta | None] | None
    default_plan: str = "default"  # whose settings tasks without a plan take
    policy: policy_module.Policy = dataclasses.field(default_factory=policy_module.Policy)
    # Each scope's spend this pass (the pass adds what the attempts it starts reserve) and
    # the pass's time, for the budget check; None: the check is skipped.
    ledgers: Mapping[PlanScope, budgets.Ledger] = dataclasses.field(default_factory=dict)
    now: datetime.datetime | None = None


Check = Callable[[TaskProgress, routing.Route, Inputs], Block | None]


def required_secrets(
    namespace: str, spec: models.AgentTaskSpec, plan_spec: models.AgentPlanSpec
) -> list[policy_module.SecretUse]:
    """The Secret keys the task's Jobs would carry, and where each value would be sent."""
    api_key = plan_spec.api_key_secret
    plan = f"AgentPlan {spec.plan!r}" if spec.plan else "the namespace's default AgentPlan"
    needed = [
        policy_module.SecretUse(
            namespace, api_key.name, api_key.key, f"spec.apiKeySecret of {plan}"
        )
    ]
    if spec.repository and spec.repository.credentials_secret:
        cred = spec.repository.credentials_secret
        needed.append(
            policy_module.SecretUse(
                namespace,
                cred.name,
                cred.key,
                "spec.repository.credentialsSecret",
                url=spec.repository.url,
            )
        )
        api = forge.api_url(spec.repository)
        if api is not None:  # the token goes to the forge's API too
            needed.append(
                policy_module.SecretUse(
                    namespace,
                    cred.name,
                    cred.key,
                    "spec.repository.credentialsSecret, for spec.repository.forge",
                    url=api,
                )
            )
    return needed


def suspended(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    if task.spec.suspend:
        return Block(reasons.SUSPENDED, "suspended (spec.suspend); set it to false to run")
    return None


def plan_exists(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    """A task naming a plan that does not exist waits: on default settings it would escape
    the plan's caps, retry policy and API key."""
    if not task.plan_found:
        return Block(
            reasons.PLAN_NOT_FOUND,
            f"AgentPlan {task.spec.plan!r} (spec.plan) does not exist in namespace "
            f"{task.namespace!r}: create it, or fix spec.plan; the task does not run on "
            "default settings meanwhile",
        )
    return None


def plan_paused(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    if task.plan_spec.paused:
        name = task.spec.plan or inputs.default_plan
        return Block(reasons.PLAN_PAUSED, f"plan {name!r} is paused (spec.paused)")
    return None


def on_cycle(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    cycle = inputs.cycles.get(task.dependency_scope, {}).get(task.spec.task_id)
    if cycle is None:
        return None
    return Block(
        reasons.CYCLE,
        f"on a dependency cycle: {' -> '.join(cycle)}; remove one of these dependencies",
        [d for d in task.spec.depends_on if d in cycle],
    )


def dependencies(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    members = inputs.members.get(task.dependency_scope, {})
    missing, failed, rejected, waiting = [], [], [], []
    for dep in task.spec.depends_on:
        other = members.get(dep)
        if other is None:
            missing.append(dep)
        elif other.succeeded:
            continue
        elif other.failed:
            failed.append(dep)
        elif other.rejected:
            rejected.append(dep)
        else:
            waiting.append(dep)
    if failed or rejected:
        parts = [f"dependency {', '.join(failed)} failed"] if failed else []
        if rejected:
            parts.append(
                f"the pull request of {', '.join(rejected)} was closed without merge"
            )
        return Block(
            reasons.DEPENDENCY_FAILED,
            f"{'; '.join(parts)}; rerun it or mark it done",
            failed + rejected + missing + waiting,
        )
    if missing:
        where = f"plan {task.spec.plan!r}" if task.spec.plan else f"namespace {task.namespace!r}"
        return Block(
            reasons.DEPENDENCY_MISSING,
            f"dependency {', '.join(missing)} does not exist in {where}; "
            "add the task or remove it from dependsOn",
            missing + waiting,
        )
    if waiting:
        return Block(reasons.WAITING_FOR_DEPENDENCIES, f"waiting for {', '.join(waiting)}", waiting)
    return None


def gates(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    if task.spec.gates:
        return Block(
            reasons.GATED, f"gated by: {'; '.join(task.spec.gates)}", list(task.spec.gates)
        )
    return None


def profile(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    if route.spec is None:
        return Block(
            reasons.PROFILE_NOT_FOUND,
            f"AgentProfile {route.profile_name!r} (spec.agentProfile) does not exist in "
            f"namespace {task.namespace!r}: create it or change spec.agentProfile",
        )
    return None


def profile_limits(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    if route.spec is None or route.builtin:
        return None
    problems = policy_module.profile_problems(route.spec, inputs.policy)
    if problems:
        return Block(
            reasons.PROFILE_NOT_ALLOWED,
            f"AgentProfile {route.profile_name!r} sets what the operator does not allow: "
            f"{'; '.join(problems)}; change the profile or ask the operator's administrator "
            "to widen the limit named",
        )
    return None


def urls(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    if route.spec is None:
        return None
    problem = policy_module.url_problem(task.spec, route.spec, inputs.policy)
    return Block(reasons.URL_NOT_ALLOWED, problem) if problem else None


def secrets(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    if inputs.secrets is None:
        return None
    api_url = (route.spec and policy_module.base_url(route.spec)) or policy_module.DEFAULT_API_URL
    for use in required_secrets(task.namespace, task.spec, task.plan_spec):
        if use.secret not in inputs.secrets:  # not read for this pass: the next one reads it
            return Block(
                reasons.CHECKING_SECRET,
                f"checking Secret {use.name!r} ({use.field})",
                recheck_after=datetime.timedelta(seconds=1),
            )
        meta = inputs.secrets[use.secret]
        problem = policy_module.credential_problem(use, meta, api_url)
        if problem:
            reason = (
                reasons.SECRET_MISSING
                if meta is not None
                and use.key not in meta.keys
                and meta.labels.get(policy_module.LABEL_AGENT_CREDENTIAL) == "true"
                else reasons.CREDENTIAL_NOT_ALLOWED
            )
            return Block(reason, problem, recheck_after=SECRET_RECHECK)
    return None


def budget(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    """No attempt starts while the task's budget, or its plan's total or today's, is used up
    (recorded spend plus what the running attempts reserved)."""
    if inputs.now is None:
        return None
    ledger = inputs.ledgers.get(task.scope) or budgets.Ledger()
    found = budgets.exhausted(task, ledger, task.plan_spec.budget, inputs.now)
    if found is None:
        return None
    recheck = None if found.until is None else found.until - inputs.now
    return Block(reasons.BUDGET_EXHAUSTED, found.message, recheck_after=recheck)


CHECKS: tuple[Check, ...] = (
    suspended,
    plan_exists,
    plan_paused,
    on_cycle,
    dependencies,
    gates,
    profile,
    profile_limits,
    urls,
    secrets,
    budget,
)
"""In order: the first block is the one the task shows."""


def first_block(task: TaskProgress, route: routing.Route, inputs: Inputs) -> Block | None:
    """The first check that holds the task back, or None when it may run."""
    for check in CHECKS:
        block = check(task, route, inputs)
        if block is not None:
            return block
    return None


def show_block(task: TaskProgress, block: Block, now: datetime.datetime) -> None:
    """Records a block in the task's status: phase Blocked and Ready=False."""
    task.status.blocked_by = list(block.blocked_by)
    task.status.queued_time = None
    task.set_phase("Blocked", block.message)
    task.not_ready(block.reason, block.message, now)
