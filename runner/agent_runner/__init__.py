"""The agent runner: the program each AgentTask attempt's Job runs.

Modules by what they do: ``cli`` (entry point and wiring), ``task`` and ``settings``
(input), ``prompt``, ``loop`` (Messages API agent loop, limits, backoff), ``tools``
(the agent's tools, confined to the workspace), ``workspace`` (git clone, branch,
commit, push; files changed), ``completion`` (the completion checks, the wrap-up
round, NoWork), ``testruns`` (test results from test runners' summary lines),
``claude_cli`` (optional Claude Code backend),
``report`` (the 4 KB report and ``EXIT_CODES``), ``failures``, ``pricing``, ``redact``,
``transcript``. The contract is documented in docs/runner.md.
"""
