"""Adversarial input for the parser: every expression it runs is linear, so inputs that
made the old ones quadratic (runs of whitespace, long lines) parse correctly. These tests
assert what is parsed; how long it takes is in the benchmark (bench/bench_sync.py)."""

from __future__ import annotations

import re

from agent_sync import lint, markdown
from hypothesis import given, settings
from hypothesis import strategies as st

# The heading expression the parser used before it read headings by hand (quadratic in a
# run of whitespace); the hand-written reader must agree with it on every short line.
_OLD_HEADING = re.compile(r"(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def _old_heading(stripped: str) -> tuple[bool, str | None]:
    match = _OLD_HEADING.match(stripped)
    if not match:
        return False, None
    return True, (match.group(2) or "").strip() or None


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="# \tab\u00a0x", min_size=1, max_size=14).map(lambda s: "#" + s))
def test_the_heading_reader_agrees_with_the_old_expression(line: str) -> None:
    assert markdown._heading_text(line) == _old_heading(line)


def test_headings_with_long_whitespace_runs() -> None:
    run = " " * 200_000
    text = f"#{run}Build{run}#{run}\n- [ ] T001.001 One\n##\t\tDeploy\t#  x\n- [ ] T001.002 Two\n"
    parsed = markdown.parse(text)
    assert [t.heading for t in parsed.tasks] == ["Build", "Deploy\t#  x"]
    assert markdown._heading_text("#" + run + "#" * 3) == (True, "#" * 3)
    assert markdown._heading_text("####### seven") == (False, None)
    assert markdown._heading_text("#" + run) == (True, None)


def test_priority_and_gate_fields_followed_by_long_runs() -> None:
    spaces = " " * 300_000
    text = (
        f"- [ ] T001.001 One priority:{spaces}\n"
        f"- [ ] T001.002 Two Priority: {spaces}**{spaces}P0\n"
        f"- [ ] T001.003 Three blocked{spaces}by{spaces}:{spaces}legal review\n"
        f"- [ ] T001.004 Four blocked by:{spaces}\n"
        f"- [ ] T001.005 Five P{'1' * 100_000}x P1 <!-- agent: Running -->{spaces}\n"
    )
    parsed = markdown.parse(text)
    tasks = parsed.by_id()
    assert tasks["T001.001"].priority == markdown.DEFAULT_PRIORITY
    assert tasks["T001.002"].priority == "P0"
    assert tasks["T001.003"].gates == ("legal review",)
    assert tasks["T001.004"].gates == ()
    assert tasks["T001.005"].priority == "P1"
    assert tasks["T001.005"].status == "Running"
    codes = {(p.line, p.code) for p in lint.lint(parsed)}
    assert (4, "empty-gate") in codes
    assert (1, "long-line") in codes and (5, "long-line") in codes


def test_a_megabyte_line_is_reported_with_its_number_and_the_rest_is_read() -> None:
    text = "- [ ] T001.001 One\n" + "x\t" * 500_000 + "\n- [ ] T001.002 Two\n"
    parsed = markdown.parse(text)
    assert [t.task_id for t in parsed.tasks] == ["T001.001", "T001.002"]
    (problem,) = [p for p in parsed.problems if p.code == "long-line"]
    assert problem.line == 2 and "1,000,000 characters" in problem.message


def test_a_megabyte_task_line_keeps_a_bounded_title() -> None:
    text = "- [ ] T001.001 " + "a " * 500_000 + "\n"
    (task,) = markdown.parse(text).tasks
    assert len(task.title) == markdown.MAX_TITLE
    assert len(task.description) <= markdown.MAX_DESCRIPTION


def test_nul_characters_are_reported_on_their_line() -> None:
    text = "# Plan\n- [ ] T001.001 One\n\n- [ ] T001.002 T\x00wo\x00\n"
    parsed = markdown.parse(text)
    (problem,) = [p for p in parsed.problems if p.code == "nul-character"]
    assert problem.line == 4 and "2 NUL characters" in problem.message
    assert [t.task_id for t in parsed.tasks] == ["T001.001", "T001.002"]


def test_many_unclosed_comment_and_fence_openers() -> None:
    text = "<!-- " * 100_000 + "\n- [ ] T001.001 hidden\n" + "```x`" * 50_000 + "\n"
    parsed = markdown.parse(text)
    assert parsed.tasks == ()
    assert [p.code for p in parsed.problems if p.code != "long-line"] == ["unclosed-comment"]
