"""The ways an attempt's agent can run: `messages_api` (the default: the runner's own agent
loop over the Anthropic Messages API with its tools) and `claude_cli` (the Claude Code CLI,
AGENT_BACKEND=claude-cli). Both end in the same Attempt record and report."""
