"""The attempt's running log on stdout, for ``kubectl logs``.

Everything passes through the Redactor first: the transcript holds the model's text,
tool inputs and command output, any of which can contain a credential.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from agent_runner.redact import Redactor

# Per entry: the whole of a tool result (tools cap those at 30,000 characters), so the
# log is the full transcript; only larger inputs, such as a big file written, are cut.
MAX_LOGGED_CHARS = 32_000


class Transcript:
    """Timestamped, redacted lines: ``+12.3s [kind] text``."""

    def __init__(self, redactor: Redactor, stream: TextIO | None = None) -> None:
        self.redactor = redactor
        self.stream = stream if stream is not None else sys.stdout
        self._started = time.monotonic()

    def __call__(self, kind: str, text: str, *, limit: int = MAX_LOGGED_CHARS) -> None:
        text = self.redactor(text)
        if len(text) > limit:
            text = f"{text[:limit]}… [{len(text) - limit} more characters]"
        elapsed = time.monotonic() - self._started
        prefix = f"+{elapsed:.1f}s [{kind}] "
        body = text.replace("\n", "\n" + " " * len(prefix))
        self.stream.write(f"{prefix}{body}\n")
        self.stream.flush()

    def runner(self, text: str) -> None:
        self("runner", text)
