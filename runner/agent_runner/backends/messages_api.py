"""The agent loop: Messages API turns with tool use, inside the attempt's limits.

Limits: turns (model calls), output tokens per turn, wall clock, an idle timeout on
any single model reply, and the attempt's budget (cost and tokens, priced after every
response). Before the turn or time limit the agent is told to wrap up, so it reports and
its partial work is committed rather than cut off; once the budget is used up it gets one
wrap-up turn, in which only the report tool runs, and the attempt ends as BudgetExceeded.
Rate limiting (429) and overload (529, other 5xx, connection failures) are retried with
backoff that honours ``retry-after``, within one waiting budget for the whole attempt;
past it the attempt fails with a reason the operator can act on.

The SDK's own retries are off (``max_retries=0``): one place decides how long to wait.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, Protocol

import anthropic
from anthropic.types import CacheControlEphemeralParam, Message

from agent_runner import budget, failures, prompt, tools
from agent_runner.settings import Settings
from agent_runner.transcript import Transcript

WRAP_UP_TURNS: Final = 2  # the notice comes when this many turns are left
BUDGET_WRAP_UP_MAX_TOKENS: Final = 2048  # output cap of the turn after the budget is used
BACKOFF_BASE_SECONDS: Final = 1.0
BACKOFF_CAP_SECONDS: Final = 30.0
MAX_MALFORMED_REPLIES: Final = 2  # retried before the attempt fails as InternalError
# Old tool output beyond this many characters is elided from the conversation, so long
# attempts stay inside the context window (about 4 characters a token).
CONTEXT_BUDGET_CHARS: Final = 400_000
KEEP_RECENT_MESSAGES: Final = 6  # never elided
EPHEMERAL: Final[CacheControlEphemeralParam] = {"type": "ephemeral"}


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Usage:
    """Tokens used so far, as the API counted them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """All input, cached or not: what the report calls inputTokens."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    def add(self, usage: Any) -> None:
        if usage is None:
            return
        self.input_tokens += int(getattr(usage, "input_tokens", 0) or 0)
        self.output_tokens += int(getattr(usage, "output_tokens", 0) or 0)
        self.cache_write_tokens += int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        self.cache_read_tokens += int(getattr(usage, "cache_read_input_tokens", 0) or 0)


class MalformedReply(Exception):
    """The API answered 200 with something that is not a Message."""


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """The server's requested wait: ``retry-after-ms``, then ``retry-after`` (seconds or date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_seconds(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter (half to full of the step) for the n-th retry."""
    step: float = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1))
    return step * (0.5 + 0.5 * rand())


def _error_text(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return str(error.message)


def check_reply(reply: Any) -> Message:
    """Refuse replies the SDK parsed leniently but that carry no usable content."""
    content = getattr(reply, "content", None)
    if not isinstance(reply, Message) or not isinstance(content, list):
        raise MalformedReply(f"no content list in the reply ({str(reply)[:200]})")
    for block in content:
        if not isinstance(getattr(block, "type", None), str):
            raise MalformedReply(f"a content block without a type ({str(block)[:200]})")
    return reply


def block_param(block: Any) -> dict[str, Any]:
    """An assistant content block as it is sent back in the next request."""
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    dumped: dict[str, Any] = block.model_dump(mode="json", exclude_none=True)
    return dumped


def request_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as sent: a prompt-cache breakpoint on its last block only.

    Each turn resends the whole conversation; marking its end lets the next turn read
    everything before it from the cache (a tenth of the input price) instead of paying
    for it again. Only one moving breakpoint is used, well under the API's limit of four.
    """
    if not messages:
        return messages
    *earlier, last = messages
    blocks = [dict(block) for block in last["content"]]
    blocks[-1]["cache_control"] = EPHEMERAL
    return [*earlier, {**last, "content": blocks}]


def elide_old_output(messages: list[dict[str, Any]], budget: int = CONTEXT_BUDGET_CHARS) -> int:
    """Shorten the oldest tool results until the conversation fits the budget.

    Returns how many results were elided. The first message (the task) and the most
    recent exchanges are kept whole: they are what the agent is working from.
    """
    results = [
        block
        for message in messages[1:-KEEP_RECENT_MESSAGES]
        if message["role"] == "user"
        for block in message["content"]
        if block.get("type") == "tool_result" and isinstance(block.get("content"), str)
    ]
    total = sum(
        len(block.get("content", "")) if isinstance(block.get("content"), str) else 0
        for message in messages
        for block in message["content"]
        if block.get("type") == "tool_result"
    )
    elided = 0
    for block in results:
        if total <= budget:
            break
        size = len(block["content"])
        if size <= 200:
            continue
        block["content"] = f"[{size} characters of old output elided to save context]"
        total -= size - len(block["content"])
        elided += 1
    return elided


@dataclass
class AgentLoop:
    """One conversation with the model, run until it reports or a limit ends it."""

    client: anthropic.Anthropic
    settings: Settings
    toolbox: tools.ToolBox
    system: str
    task_prompt: str
    deadline: float  # clock.monotonic() value at which the loop must have stopped
    log: Transcript
    clock: Clock = field(default_factory=SystemClock)
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    retry_waited: float = 0.0  # backoff sleep spent so far, across all calls
    claim: tools.ReportClaim | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    _unanswered: list[dict[str, Any]] = field(default_factory=list)  # the report's result
    _warned: bool = False
    _over_budget: str | None = None  # set when the budget's wrap-up turn has been given

    @property
    def cost_usd(self) -> float:
        """The estimated cost of the usage so far."""
        return budget.cost_of(self.settings.model, self.usage)

    def run(self) -> tools.ReportClaim:
        """The agent's report; raises RunFailure for every way it can end otherwise."""
        self.messages = [
            {"role": "user", "content": [{"type": "text", "text": self.task_prompt}]}
        ]
        self.log("user", self.task_prompt)
        return self._converse()

    def follow_up(self, text: str) -> tools.ReportClaim:
        """Continue the conversation after a report, within the same limits (turns and
        time): the agent reads ``text`` and works until it reports again."""
        self.messages.append(
            {"role": "user", "content": [*self._unanswered, {"type": "text", "text": text}]}
        )
        self._unanswered = []
        previous, self.claim = self.claim, None
        self.log("user", text)
        try:
            return self._converse()
        except failures.RunFailure:
            if self.claim is None:  # no new report: the earlier one still says what was done
                self.claim = previous
            raise

    def _converse(self) -> tools.ReportClaim:
        messages = self.messages
        nudged = False
        max_turns = self.settings.max_turns
        while self.turns < max_turns:
            self.turns += 1
            turn = self.turns
            seconds_left = self.deadline - self.clock.monotonic()
            if seconds_left <= 0:
                raise self._timeout()
            turns_left = max_turns - turn + 1
            near_turns = turns_left <= WRAP_UP_TURNS
            near_time = seconds_left <= self.settings.wrap_up_seconds
            reached = self.settings.allowance.reached(self.settings.model, self.usage)
            if reached is not None:
                if self._over_budget is not None:  # its wrap-up turn was given already
                    raise self._budget_failure(reached)
                notice = prompt.budget_notice(reached)
                messages[-1]["content"].append({"type": "text", "text": notice})
                self.log("runner", f"the attempt {reached}: one wrap-up turn")
                self._over_budget = reached
            elif not self._warned and turn > 1 and (near_turns or near_time):
                notice = prompt.wrap_up_notice(
                    turns_left=turns_left if near_turns else None,
                    seconds_left=seconds_left if near_time else None,
                )
                messages[-1]["content"].append({"type": "text", "text": notice})
                self.log("runner", notice)
                self._warned = True

            elided = elide_old_output(messages)
            if elided:
                self.log("runner", f"elided {elided} old tool results to stay in context")
            reply = self._create(messages)
            self.usage.add(reply.usage)
            self.log(
                "model",
                f"turn {turn}/{max_turns}: stop {reply.stop_reason}, "
                f"{self.usage.total_input_tokens} input and "
                f"{self.usage.output_tokens} output tokens so far"
                + (
                    f", {budget.usd(self.cost_usd)}"
                    if self.settings.allowance.max_cost_usd is not None
                    else ""
                ),
            )
            if reply.content:  # the API refuses an empty assistant turn in the history
                messages.append(
                    {"role": "assistant", "content": [block_param(b) for b in reply.content]}
                )
            for block in reply.content:
                if block.type == "text" and block.text.strip():
                    self.log("assistant", block.text)
            tool_uses = [b for b in reply.content if b.type == "tool_use"]
            if self._over_budget is not None:
                self._wrap_up_over_budget(tool_uses)

            if not tool_uses:
                last_text = " ".join(
                    b.text for b in reply.content if b.type == "text"
                ).strip()
                if reply.stop_reason == "max_tokens":
                    note = (
                        f"Your reply was cut off at the {self.settings.max_tokens}-token "
                        "limit. Continue in smaller steps."
                    )
                elif reply.stop_reason == "refusal":
                    raise failures.RunFailure(
                        failures.AGENT_GAVE_UP,
                        f"the model refused the task: {last_text[:1000] or '(no text)'}",
                    )
                elif not nudged:
                    nudged = True
                    note = (
                        "You ended your turn without calling the report tool. If the task "
                        "is done, call report with status completed; if you cannot do it, "
                        "call report with status gave_up and say why."
                    )
                else:
                    raise failures.RunFailure(
                        failures.AGENT_GAVE_UP,
                        "the agent stopped without reporting"
                        + (f": {last_text[:1000]}" if last_text else ""),
                    )
                self.log("runner", note)
                messages.append({"role": "user", "content": [{"type": "text", "text": note}]})
                continue

            results: list[dict[str, Any]] = []
            for use in tool_uses:
                results.append(self._run_tool(use))
            if self.claim is not None:
                self._unanswered = results
                if not self.claim.completed:
                    raise failures.RunFailure(
                        failures.AGENT_GAVE_UP,
                        self.claim.summary or "the agent reported that it gave up",
                    )
                return self.claim
            messages.append({"role": "user", "content": results})
        reached = self.settings.allowance.reached(self.settings.model, self.usage)
        if reached is not None:
            raise self._budget_failure(reached)
        raise failures.RunFailure(
            failures.MAX_TURNS,
            f"the agent used all {max_turns} turns without reporting; raise maxTurns in "
            "the AgentProfile or split the task",
        )

    # ------------------------------------------------------------------ budget

    def _budget_failure(self, reached: str) -> failures.RunFailure:
        allowance = self.settings.allowance
        basis = f" (set by {'; '.join(allowance.basis)})" if allowance.basis else ""
        return failures.RunFailure(
            failures.BUDGET_EXCEEDED,
            f"the attempt {reached}{basis} after {self.turns} turns; the work so far is "
            "committed. Raise the budget and rerun the task to go on",
        )

    def _wrap_up_over_budget(self, tool_uses: list[Any]) -> NoReturn:
        """The turn after the budget was used up: only a report is taken, then the attempt
        ends (the claim, if any, says what is left)."""
        for use in tool_uses:
            if use.name == tools.REPORT_TOOL_NAME:
                self._run_tool(use)
            else:
                self.log("runner", f"not running {use.name}: the budget is used up")
        reached = self.settings.allowance.reached(self.settings.model, self.usage)
        raise self._budget_failure(reached or self._over_budget or "used up its budget")

    # ------------------------------------------------------------------ tools

    def _run_tool(self, use: Any) -> dict[str, Any]:
        name = str(use.name)
        tool_input = use.input if isinstance(use.input, dict) else {}
        self.log(f"tool {name}", _describe_input(name, tool_input))
        if name == tools.REPORT_TOOL_NAME:
            try:
                self.claim = tools.parse_report_claim(tool_input)
                outcome = tools.ToolOutcome("Report received.")
            except tools.ToolInputError as error:
                outcome = tools.ToolOutcome(str(error), is_error=True)
        else:
            outcome = self.toolbox.run(name, tool_input)
        self.log("result (error)" if outcome.is_error else "result", outcome.content)
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": use.id,
            "content": outcome.content or "(no output)",
        }
        if outcome.is_error:
            result["is_error"] = True
        return result

    # ------------------------------------------------------------------ model calls

    def _timeout(self) -> failures.RunFailure:
        return failures.RunFailure(
            failures.TIMEOUT,
            f"the agent reached its {self.settings.agent_seconds:.0f}-second share of the "
            f"attempt's {self.settings.timeout_seconds:.0f}-second limit "
            f"after {self.turns} turns; raise spec.timeoutSeconds or split the task",
        )

    def _create(self, messages: list[dict[str, Any]]) -> Message:
        """One model call, retried through rate limits and overload within the budget."""
        retries = 0
        malformed = 0
        while True:
            remaining = self.deadline - self.clock.monotonic()
            if remaining <= 0:
                raise self._timeout()
            timeout = min(self.settings.idle_timeout_seconds, remaining)
            requested: float | None = None
            try:
                reply = self.client.messages.create(
                    model=self.settings.model,
                    max_tokens=self.settings.max_tokens
                    if self._over_budget is None
                    else min(self.settings.max_tokens, BUDGET_WRAP_UP_MAX_TOKENS),
                    system=[
                        {"type": "text", "text": self.system, "cache_control": EPHEMERAL}
                    ],
                    tools=tools.TOOL_DEFINITIONS,  # type: ignore[arg-type]
                    messages=request_messages(messages),  # type: ignore[arg-type]
                    timeout=timeout,
                )
                return check_reply(reply)
            except anthropic.APITimeoutError:
                if self.deadline - self.clock.monotonic() <= 0:
                    raise self._timeout() from None
                raise failures.RunFailure(
                    failures.TIMEOUT,
                    f"the Messages API sent no reply within {timeout:.0f} s (idle timeout); "
                    "raise AGENT_IDLE_TIMEOUT_SECONDS if replies are legitimately slow",
                ) from None
            except anthropic.AuthenticationError as error:
                raise failures.RunFailure(
                    failures.CONFIG_ERROR,
                    f"the API key was refused ({_error_text(error)}): check the Secret that "
                    "holds ANTHROPIC_API_KEY (the plan's spec.apiKeySecret)",
                ) from None
            except anthropic.PermissionDeniedError as error:
                raise failures.RunFailure(
                    failures.CONFIG_ERROR,
                    f"the API key may not use this API or model ({_error_text(error)})",
                ) from None
            except anthropic.NotFoundError as error:
                raise failures.RunFailure(
                    failures.CONFIG_ERROR,
                    f"model {self.settings.model!r} was not found ({_error_text(error)}): set "
                    "a valid model ID in the AgentProfile's spec.model or AGENT_MODEL",
                ) from None
            except anthropic.RateLimitError as error:
                reason: failures.Reason = failures.RATE_LIMITED
                what = f"rate limited (429: {_error_text(error)})"
                requested = retry_after_seconds(error.response.headers)
            except anthropic.InternalServerError as error:
                reason = failures.OVERLOADED
                what = f"overloaded ({error.status_code}: {_error_text(error)[:200]})"
                requested = retry_after_seconds(error.response.headers)
            except anthropic.APIConnectionError as error:
                reason = failures.OVERLOADED
                what = f"unreachable ({error})"
            except anthropic.BadRequestError as error:
                text = _error_text(error)
                if "model" in text.lower():
                    raise failures.RunFailure(
                        failures.CONFIG_ERROR,
                        f"the API refused model {self.settings.model!r}: {text}",
                    ) from None
                raise failures.RunFailure(
                    failures.INTERNAL_ERROR, f"the API refused the request: {text}"
                ) from None
            except anthropic.APIStatusError as error:
                raise failures.RunFailure(
                    failures.INTERNAL_ERROR,
                    f"the Messages API answered {error.status_code}: {_error_text(error)}",
                ) from None
            except (MalformedReply, ValueError) as error:
                malformed += 1
                if malformed > MAX_MALFORMED_REPLIES:
                    raise failures.RunFailure(
                        failures.INTERNAL_ERROR,
                        f"the Messages API returned {malformed} malformed replies in a row "
                        f"(last: {str(error)[:200]}); check ANTHROPIC_BASE_URL and any proxy",
                    ) from None
                reason = failures.INTERNAL_ERROR
                what = f"malformed ({str(error)[:200]})"

            retries += 1
            wait = requested if requested is not None else backoff_seconds(retries)
            budget = self.settings.max_retry_wait_seconds - self.retry_waited
            if wait > budget or self.clock.monotonic() + wait >= self.deadline:
                hint = (
                    f"the server asked for {requested:.1f} s more"
                    if requested is not None
                    else f"the next wait would be {wait:.1f} s"
                )
                raise failures.RunFailure(
                    reason,
                    f"the Messages API was {what}; gave up after {retries} tries and "
                    f"{self.retry_waited:.1f} s of waiting ({hint}, the budget is "
                    f"{self.settings.max_retry_wait_seconds:.0f} s: "
                    "AGENT_MAX_RETRY_WAIT_SECONDS)",
                )
            self.log("runner", f"the Messages API was {what}; retrying in {wait:.1f} s")
            self.clock.sleep(wait)
            self.retry_waited += wait


def _describe_input(name: str, tool_input: dict[str, Any]) -> str:
    if name == "bash":
        return f"$ {tool_input.get('command', '')}"
    if name == "write_file":
        content = tool_input.get("content")
        text = content if isinstance(content, str) else ""
        return f"{tool_input.get('path')} ({len(text)} characters)\n{text}"
    if name == tools.REPORT_TOOL_NAME:
        return "\n".join(f"{key}: {value}" for key, value in tool_input.items())
    return ", ".join(f"{key}={value!r}"[:300] for key, value in tool_input.items())


def make_client(settings: Settings) -> anthropic.Anthropic:
    """The SDK client with its own retries off; timeouts are set per call."""
    return anthropic.Anthropic(
        api_key=settings.api_key,
        base_url=settings.base_url,
        max_retries=0,
        timeout=settings.idle_timeout_seconds,
    )
