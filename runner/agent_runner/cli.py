"""``agent-runner``: run one attempt of an AgentTask and report on it.

Wiring only: read the task and settings, open the workspace, run the agent (Messages
API loop or the Claude Code CLI), commit and push, write the report, exit with the
reason's code. Every outcome, including a crash, ends in a valid report.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from agent_api import forge, report, settings_errors

from agent_runner import (
    completion,
    executor,
    failures,
    pricing,
    prompt,
    review,
    sandbox,
    settings,
    task,
    tools,
    workspace,
)
from agent_runner.backends import claude_cli
from agent_runner.backends import messages_api as loop
from agent_runner.redact import Redactor
from agent_runner.transcript import Transcript


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runner",
        description="Run one attempt of an AgentTask with a Claude agent in a workspace "
        "and write a JSON report (exit 0 on success, a reason's code otherwise).",
    )
    parser.add_argument(
        "--task",
        metavar="FILE",
        help=f"AgentTask JSON (kubectl get agenttask X -o json, plus 'context'); "
        f"default: ${task.TASK_ENV}",
    )
    parser.add_argument("--workspace", metavar="DIR", required=True, help="Working directory.")
    parser.add_argument(
        "--report",
        metavar="PATH",
        help=f"Where to write the report (default: ${'AGENT_REPORT_PATH'} or "
        f"{settings.DEFAULT_REPORT_PATH}).",
    )
    parser.add_argument("--model", help="Claude model ID ($AGENT_MODEL).")
    parser.add_argument("--system-prompt", help="System prompt ($AGENT_SYSTEM_PROMPT).")
    parser.add_argument("--max-tokens", type=int, help="Output tokens per turn.")
    parser.add_argument("--max-turns", type=int, help="Model turns per attempt.")
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        help="Wall-clock limit of the attempt (default: the task's timeoutSeconds); the "
        "agent stops earlier to leave time for saving its work.",
    )
    parser.add_argument(
        "--idle-timeout-seconds", type=float, help="Longest wait for one model reply."
    )
    parser.add_argument(
        "--max-retry-wait-seconds",
        type=float,
        help="Total backoff on rate limits and overload (default 120).",
    )
    parser.add_argument(
        "--command-timeout-seconds", type=float, help="Longest shell command (default 600)."
    )
    parser.add_argument("--agent-name", help="Agent name in the prompt ($AGENT_NAME).")
    parser.add_argument(
        "--backend", choices=("api", "claude-cli"), help="api (default) or claude-cli."
    )
    return parser


@dataclass
class Attempt:
    """The mutable record of one run, read when building the report."""

    model: str = ""
    usage: loop.Usage | None = None
    cli_cost: float | None = None
    claim: tools.ReportClaim | None = None
    commands: list[tools.CommandRecord] | None = None
    checks: list[completion.CheckResult] | None = None  # the round of checks that passed
    outcome: workspace.Outcome | None = None
    failure: failures.RunFailure | None = None
    pull: forge.PullRequest | None = None  # the task's pull request after this attempt

    def summary(self) -> str:
        """The agent's summary, after the failure message when there is one (first, so
        that it survives when the report is shortened) and before the checks passed."""
        text = self.claim.summary if self.claim is not None else ""
        note = completion.passed_note(self.checks or [])
        if note:
            text = f"{text}\n\n{note}".strip()
        if self.failure is not None and self.failure.message not in text:
            text = f"{self.failure.message}\n\n{text}".strip()
        return text


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, so that no library's ``except Exception``
    (the SDK wraps those as connection errors and retries) can swallow it."""


@contextmanager
def sigterm_as_timeout() -> Iterator[None]:
    """Turn Kubernetes' SIGTERM (deadline or deletion) into a Timeout, so we still report."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    except Terminated:
        raise failures.RunFailure(
            failures.TIMEOUT, "stopped by SIGTERM (the Job's deadline passed or it was deleted)"
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_attempt(
    args: argparse.Namespace, env: Mapping[str, str], log: Transcript, attempt: Attempt
) -> None:
    """Do the work; every failure is recorded in ``attempt``, never raised."""
    clock = loop.SystemClock()
    started = clock.monotonic()
    try:
        task_input = task.load_task(args.task, env)
        flags = {name: getattr(args, name, None) for name in settings.ENV_NAMES}
        config = settings.resolve_settings(flags, env, task_input)
    except settings.InvalidSetting as failure:
        print(settings_errors.message("agent-runner", failure.message), file=sys.stderr)
        attempt.failure = failure  # ConfigError: exit code 2, as in every program
        return
    except failures.RunFailure as failure:  # no task, or not a valid one
        say("agent-runner", failure.message)
        attempt.failure = failure
        return
    attempt.model = config.model
    for secret in (config.api_key, config.git_token):
        if secret:
            log.redactor.add(secret)
    spec = task_input.spec
    log.runner(
        f"task {spec.task_id} (attempt {task_input.context.attempt}) as {config.agent_name}, "
        f"model {config.model}, backend {config.backend}, max {config.max_turns} turns, "
        f"{config.agent_seconds:.0f} s of {config.timeout_seconds:.0f} s for the agent"
    )
    if config.backend == "api" and not config.api_key:
        attempt.failure = failures.RunFailure(
            failures.CONFIG_ERROR,
            "ANTHROPIC_API_KEY is not set: the Job needs the plan's API key Secret "
            "(spec.apiKeySecret, default Secret anthropic-api-key, key ANTHROPIC_API_KEY)",
        )
        say("agent-runner", attempt.failure.message)
        return
    deadline = started + config.agent_seconds

    try:
        space = workspace.open_workspace(
            Path(args.workspace),
            spec.repository,
            task_id=spec.task_id,
            token=config.git_token,
            env=env,
            log=log.runner,
        )
    except failures.RunFailure as failure:
        attempt.failure = failure
        return

    toolbox = tools.ToolBox(
        root=space.root,
        command_timeout=lambda: min(
            config.command_timeout_seconds,
            config.idle_timeout_seconds,
            deadline - clock.monotonic(),
        ),
        env=env,
    )
    attempt.commands = toolbox.commands
    try:
        toolbox.client()
    except sandbox.Unavailable as error:  # every tool call says so to the model
        log.runner(f"the workspace executor is not available: {error}")
    try:
        work(config, task_input, space, toolbox, env, log, attempt, deadline, clock)
    finally:
        toolbox.close()


def work(
    config: settings.Settings,
    task_input: task.TaskInput,
    space: workspace.GitWorkspace | workspace.PlainWorkspace,
    toolbox: tools.ToolBox,
    env: Mapping[str, str],
    log: Transcript,
    attempt: Attempt,
    deadline: float,
    clock: loop.SystemClock,
) -> None:
    """The agent's turn, the completion checks, and saving the work."""
    spec = task_input.spec
    checks = task_input.verify
    client = connect_forge(config, task_input, deadline, clock) if space.branch else None
    found = reviews(client, space.branch, log) if client is not None else None
    system = prompt.build_system_prompt(config.system_prompt, branch=space.branch)
    allowance = config.allowance
    task_prompt = prompt.build_task_prompt(
        task_input,
        agent_name=config.agent_name,
        branch=space.branch,
        checks=checks,
        allowance=allowance.describe() if allowance.limited else None,
        review=review.feedback_lines(found) if found is not None else None,
    )
    if allowance.limited:
        log.runner(f"budget of this attempt: {allowance.describe()}")
    agent: loop.AgentLoop | claude_cli.ClaudeCliRun
    if config.backend == "claude-cli":
        agent = claude_cli.ClaudeCliRun(
            config, space.root, env, log,
            task_prompt=task_prompt, system_prompt=system, deadline=deadline, clock=clock,
        )
    else:
        agent = loop.AgentLoop(
            client=loop.make_client(config),
            settings=config,
            toolbox=toolbox,
            system=system,
            task_prompt=task_prompt,
            deadline=deadline,
            log=log,
            clock=clock,
        )
    attempt.usage = agent.usage
    try:
        with sigterm_as_timeout():
            try:
                agent.run()
                usage = agent.usage
                idle = completion.no_model_work(
                    turns=agent.turns, tokens=usage.total_input_tokens + usage.output_tokens
                )
                if idle is not None:
                    raise idle
                attempt.checks = completion.verify(agent, toolbox, checks, log=log)
                unchanged = completion.no_changes(
                    space.files_changed(), expect_changes=task_input.expect_changes
                )
                if unchanged is not None:
                    raise unchanged
            finally:  # a gave-up report is kept too
                attempt.claim = agent.claim
                if isinstance(agent, claude_cli.ClaudeCliRun):
                    attempt.cli_cost = agent.cost_usd
    except failures.RunFailure as failure:
        attempt.failure = failure
        log.runner(f"attempt failed: {failure}")

    toolbox.stop_processes()  # nothing of the agent's runs while the work is saved
    summary = attempt.summary()
    outcome_word = "completed" if attempt.failure is None else f"failed ({attempt.failure.reason})"
    message = workspace.commit_message(
        task_id=spec.task_id,
        title=spec.title,
        summary=log.redactor(summary),
        agent=config.agent_name,
        attempt=task_input.context.attempt,
        outcome=outcome_word,
    )
    attempt.outcome = space.finish(message)
    if attempt.outcome.error is not None:
        log.runner(f"saving the work failed: {attempt.outcome.error}")
        if attempt.failure is None:
            attempt.failure = attempt.outcome.error
    if client is not None and attempt.failure is None and attempt.outcome.branch:
        client = connect_forge(config, task_input, deadline, clock)  # the budget left now
        assert client is not None
        open_pull_request(client, config, task_input, log, attempt)


FORGE_WAIT_SECONDS = 120.0  # the longest rate-limit wait of one forge call


def connect_forge(
    config: settings.Settings,
    task_input: task.TaskInput,
    deadline: float,
    clock: loop.SystemClock,
) -> forge.Forge | None:
    """The forge client when the repository names a forge. Its rate limits are waited
    out up to FORGE_WAIT_SECONDS a call, and never into the last 15 s of the attempt's
    time (the agent's share ends at `deadline`; the finish reserve follows it)."""
    repository = task_input.spec.repository
    if repository is None or repository.forge is None:
        return None
    end = deadline + settings.finish_reserve(config.timeout_seconds) - 15.0
    wait = max(0.0, min(FORGE_WAIT_SECONDS, end - clock.monotonic()))
    return forge.connect(repository, config.git_token, max_wait_seconds=wait)


def reviews(client: forge.Forge, branch: str | None, log: Transcript) -> review.Feedback | None:
    """The review of the branch's pull request, for the prompt; a forge that cannot
    answer costs the agent the comments, not the attempt."""
    if branch is None:
        return None
    try:
        found = review.feedback(client, branch)
    except forge.ForgeError as error:
        log.runner(f"could not read the pull request's review: {error}")
        return None
    if found is not None:
        log.runner(
            f"pull request #{found.pull.number} has {len(found.comments)} review comments; "
            "they are in the prompt"
        )
    return found


def open_pull_request(
    client: forge.Forge,
    config: settings.Settings,
    task_input: task.TaskInput,
    log: Transcript,
    attempt: Attempt,
) -> None:
    """Opens or updates the task's pull request; a forge that refuses fails the attempt
    (ToolError, or RateLimited past the wait), its work already pushed."""
    outcome = attempt.outcome
    spec = task_input.spec
    assert outcome is not None and outcome.branch is not None and spec.repository is not None
    body = review.pull_body(
        task_input,
        summary=attempt.summary(),
        files=outcome.files_changed,
        checks=attempt.checks or [],
        tests_passed=tools.tests_passed(attempt.commands or []),
        cost_usd=attempt_cost(attempt),
        commit=outcome.commit,
        attempt=task_input.context.attempt,
        agent=config.agent_name,
    )
    try:
        attempt.pull = review.publish(
            client,
            head=outcome.branch,
            base=spec.repository.branch,
            title=log.redactor(review.pull_title(spec)),
            body=log.redactor(body),
            log=log.runner,
        )
    except forge.RateLimited as error:
        attempt.failure = failures.RunFailure(
            failures.RATE_LIMITED, f"the pull request could not be opened: {error}"
        )
    except forge.ForgeError as error:
        attempt.failure = failures.RunFailure(
            failures.TOOL_ERROR, f"the pull request could not be opened: {error}"
        )
    if attempt.failure is not None:
        log.runner(f"attempt failed: {attempt.failure}")


def attempt_cost(attempt: Attempt) -> float:
    """The attempt's cost: the CLI's own figure, else priced from the token counts."""
    usage = attempt.usage or loop.Usage()
    if attempt.cli_cost is not None:
        return round(attempt.cli_cost, 4)
    return pricing.cost_usd(
        attempt.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_read_tokens=usage.cache_read_tokens,
    )


def build_report(attempt: Attempt, redactor: Redactor) -> report.Report:
    """The report from what the attempt recorded; pure apart from the redactor."""
    usage = attempt.usage or loop.Usage()
    cost = attempt_cost(attempt)
    failure = attempt.failure
    summary = attempt.summary()
    outcome = attempt.outcome
    tests = tools.tests_passed(attempt.commands or [])
    return report.Report(
        status="succeeded" if failure is None else "failed",
        summary=redactor(summary),
        files_changed=tuple(redactor(p) for p in outcome.files_changed) if outcome else (),
        tests_passed=tests,
        branch=outcome.branch if outcome else None,
        commit=outcome.commit if outcome else None,
        input_tokens=usage.total_input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=cost,
        reason=None if failure is None else failure.reason,
        pr_url=attempt.pull.url if attempt.pull else None,
        pr_number=attempt.pull.number if attempt.pull else None,
    )


def say(program: str, message: str) -> None:
    """A person's mistake as one line on stderr (the report says it again)."""
    print(f"{program}: {' '.join(message.split())}", file=sys.stderr)


def write_report(path: str, encoded: bytes) -> None:
    """Write the report; a missing termination-log path (outside Kubernetes) only warns."""
    try:
        Path(path).write_bytes(encoded)
    except OSError as error:
        print(
            f"agent-runner: cannot write the report to {path}: {error.strerror or error}",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point; as a container's PID 1 it forks and stays behind to reap orphans.

    The flags are read first, so that a mistyped one is argparse's usage and exit code 2
    in every case, before any fork."""
    args = build_parser().parse_args(argv)
    return executor.become_init(lambda: run_main(args))


def run_main(args: argparse.Namespace) -> int:
    env: dict[str, Any] = dict(os.environ)
    redactor = Redactor.from_env(env)
    log = Transcript(redactor)
    report_path = args.report or env.get("AGENT_REPORT_PATH") or settings.DEFAULT_REPORT_PATH
    attempt = Attempt()
    try:
        with sigterm_as_timeout():  # outside the agent loop too: cloning, pushing
            run_attempt(args, env, log, attempt)
    except failures.RunFailure as failure:
        attempt.failure = failure
    except Exception as error:  # the report must be written whatever happened
        log("runner", "unexpected error:\n" + traceback.format_exc())
        attempt.failure = failures.RunFailure(
            failures.INTERNAL_ERROR, f"unexpected {type(error).__name__}: {error}"
        )
    finally:
        sandbox.shut_down_pod_executor(env)
    result = build_report(attempt, redactor)
    encoded = report.encode_report(result)
    log("report", encoded.decode(), limit=report.REPORT_LIMIT_BYTES)
    write_report(report_path, encoded)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
