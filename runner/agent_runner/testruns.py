"""Whether tests passed, read from what a test runner printed, never from a command's name.

A command is a test run only if its output carries the summary line a known test runner
prints at the end: pytest (``3 passed in 0.12s``), unittest (``Ran 3 tests`` then ``OK``
or ``FAILED (failures=1)``), go test (``ok  pkg 0.1s`` / ``FAIL``), jest and vitest
(``Tests: 1 failed, 2 passed``) and cargo test (``test result: ok.``). Its verdict needs
both: a summary without failures and exit status 0. ``echo pytest`` prints no summary, so
it says nothing; a summary with failures, or a clean summary from a command that still
exited non-zero, is a failure.
"""

from __future__ import annotations

import re
from typing import Final

ANSI: Final = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# pytest's last line, with or without the ===== rule: "1 failed, 2 passed in 0.31s".
PYTEST: Final = re.compile(
    r"^=*\s*(?P<counts>\d+ \w+(?:, \d+ \w+)*) in [\d.]+s(?: \([\d:]+\))?\s*=*$"
)
# unittest: "Ran 3 tests in 0.001s", later "OK", "OK (skipped=1)" or "FAILED (errors=1)".
UNITTEST_RAN: Final = re.compile(r"^Ran (?P<count>\d+) tests? in [\d.]+s$")
UNITTEST_OK: Final = re.compile(r"^OK(?: \(.*\))?$")
UNITTEST_FAILED: Final = re.compile(r"^FAILED \((?:failures|errors|unexpected successes)=")
# go test, per package: "ok  	example.com/pkg	0.012s" or "ok  	pkg	(cached)"; "FAIL ...".
GO_OK: Final = re.compile(r"^ok\s+\S+\s+(?:[\d.]+s|\(cached\))")
GO_FAIL: Final = re.compile(r"^(?:FAIL(?:\s|$)|--- FAIL: )")
# jest "Tests:       1 failed, 2 passed, 3 total"; vitest "      Tests  1 failed | 2 passed (3)".
JS_TESTS: Final = re.compile(r"^\s*Tests:?\s+(?P<counts>.*\d+ (?:passed|failed).*)$")
# cargo test, per test binary: "test result: ok. 3 passed; 0 failed; 0 ignored; ...".
CARGO: Final = re.compile(r"^test result: (?P<word>ok|FAILED)\. (?P<passed>\d+) passed; "
                          r"(?P<failed>\d+) failed")
COUNT: Final = re.compile(r"(?P<n>\d+) (?P<what>[a-z]+)")

FAILED_WORDS: Final = frozenset({"failed", "error", "errors"})


def _counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in COUNT.finditer(text):
        counts[match["what"]] = counts.get(match["what"], 0) + int(match["n"])
    return counts


def _line_verdict(line: str, ran_unittest: bool) -> bool | None:
    """True for a summary line without failures, False for one with, None otherwise."""
    if match := PYTEST.match(line):
        counts = _counts(match["counts"])
        if any(counts.get(word, 0) for word in FAILED_WORDS):
            return False
        return True if counts.get("passed", 0) else None
    if match := CARGO.match(line):
        return match["word"] == "ok" and match["failed"] == "0"
    if match := JS_TESTS.match(line):
        counts = _counts(match["counts"])
        if counts.get("failed", 0):
            return False
        return True if counts.get("passed", 0) else None
    if GO_OK.match(line):
        return True
    if GO_FAIL.match(line):
        return False
    if ran_unittest:
        if UNITTEST_OK.match(line):
            return True
        if UNITTEST_FAILED.match(line):
            return False
    return None


def summary_verdict(output: str) -> bool | None:
    """What the test runners' summary lines in the output say: False if any shows a
    failure, True if some show passes and none a failure, None if there is none."""
    verdicts: list[bool] = []
    ran_unittest = False
    for raw in ANSI.sub("", output).splitlines():
        line = raw.rstrip()
        if match := UNITTEST_RAN.match(line):
            ran_unittest = int(match["count"]) > 0
            continue
        verdict = _line_verdict(line, ran_unittest)
        if verdict is not None:
            verdicts.append(verdict)
    if not verdicts:
        return None
    return all(verdicts)


def verdict(output: str, exit_code: int | None) -> bool | None:
    """Whether this command was a passing test run: None when no test runner's summary
    is in its output; otherwise the summary and the exit status must both say so."""
    summary = summary_verdict(output)
    if summary is None:
        return None
    return summary and exit_code == 0
