"""Removes secrets from everything the runner prints or reports.

The transcript goes to ``kubectl logs`` and the report into the AgentTask status, both
readable by far more people than the Secret that holds the API key. So every string
leaving the process passes through one Redactor that knows the actual secret values
(from the environment) and, as a second line, the shapes of common tokens.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping

MASK = "[REDACTED]"

# Environment variables whose values are secrets, by name.
SECRET_ENV_NAMES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GIT_TOKEN")
SECRET_ENV_SUFFIXES = ("_TOKEN", "_API_KEY", "_SECRET", "_PASSWORD")
# Shorter values are too likely to occur by accident to be worth masking.
MIN_SECRET_LENGTH = 8

TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?i)(authorization:\s*(?:basic|bearer|token)\s+)[A-Za-z0-9+/=._\-]+"),
    re.compile(r"(?i)(x-api-key:\s*)\S+"),
    # Credentials embedded in a URL: scheme://user:secret@host
    re.compile(r"(?i)([a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^/\s@]+(@)"),
)


class Redactor:
    """Masks known secret values and token-shaped strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        """A redactor knowing every secret-looking variable of the environment."""
        redactor = cls()
        for name, value in env.items():
            if name in SECRET_ENV_NAMES or name.endswith(SECRET_ENV_SUFFIXES):
                redactor.add(value)
        return redactor

    def add(self, secret: str) -> None:
        """Also mask this value, and the Basic-auth forms git may carry it in."""
        secret = secret.strip()
        if len(secret) < MIN_SECRET_LENGTH:
            return
        forms = {secret}
        for user in ("x-access-token", "oauth2", "git"):
            forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
        for form in forms:
            if form not in self._secrets:
                self._secrets.append(form)
        # Longest first, so a secret containing another is masked whole.
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in TOKEN_PATTERNS:
            if pattern.groups == 2:
                text = pattern.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2)}", text)
            elif pattern.groups == 1:
                text = pattern.sub(lambda m: f"{m.group(1)}{MASK}", text)
            else:
                text = pattern.sub(MASK, text)
        return text
