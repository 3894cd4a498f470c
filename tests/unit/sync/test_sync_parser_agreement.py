"""The parser reads most task lines from one whole-text match (its fast path) and walks
every other line on its own. Both paths, and lint, must agree with the line-by-line
reader they replaced (reference_parser.py) on every input: same tasks, same positions,
same problems in the same order. The inputs mix what makes a line special: fences,
comments opened and closed mid-line, status comments, headings, nesting by spaces and
tabs, CRLF and lone carriage returns, blank and whitespace-only lines, NULs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agent_sync import ids, lint, markdown
from agent_sync.ids import IdPattern
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.sync import reference_parser as reference

REPO = Path(__file__).resolve().parents[3]


def _generic(pattern: IdPattern) -> IdPattern:
    """The pattern compiled in the general whole-word form, as the old reader had it."""
    if not pattern.is_default:
        return pattern
    regex = re.compile(rf"(?<![A-Za-z0-9])(?:{pattern.source})(?![A-Za-z0-9])")
    return IdPattern(source=pattern.source, regex=regex)


def assert_agree(text: str, pattern: IdPattern | None = None) -> None:
    pattern = pattern or IdPattern.compile()
    parsed = markdown.parse(text, pattern)
    expected = reference.parse(text, _generic(pattern))
    assert parsed.tasks == expected.tasks
    assert parsed.problems == expected.problems
    assert parsed.held_ids == expected.held_ids
    assert parsed.line_count == expected.line_count
    assert lint.lint(parsed) == reference.lint(expected)


INDENTS = ["", "", "", " ", "  ", "   ", "    ", "\t", " \t", "\t  ", "      "]
MARKERS = ["-", "-", "*", "+", "1.", "12)", "1\u0661.", "\u0661.", "-\t", "1234567890."]
BOXES = ["[ ]", "[ ]", "[x]", "[X]", "[~]", "[]", "[ x]", "[ ]\r", "[x]\t"]
TEXTS = [
    "T001.001 One", "T001.002 Two after T001.001 P1", "T001.003 Three (deps: T001.002) [P0]",
    "**T001.004**: Four P9", "`T001.005` - Five Priority: soon", "T001.006",
    "T001.007 Seven <!-- agent: Running -->", "T001.008 E <!-- agent: AwaitingReview https://x/p/1 -->  ",
    "T001.009 Nine <!-- not closed", "T001.010 Ten --> tail", "T001.011 blocked by: review",
    "T001.012 blocked by: T001.001", "T01.7 almost", "XT001.001 not a word", "buy milk",
    "T001.001 dup", "T001.013 after T001.013", "T001.014 P2P and MP3", "T002.001 x\x00y",
    "T002.002 <!-- a --> <!-- b --> after T001.001", "T002.003 \u00e9t\u00e9 P3",
    "T002.004 priority: P1", "T002.005\tTab title", "T002.006 a\rb", "T002.007 `code` ```",
]
OTHER = [
    "", "", "  ", "\t", "\u00a0", "# Heading", "## T002 Milestone ##", "  # indented heading",
    "    # code heading", "#nope", "```", "```python", "~~~", "~~~~md", "  ```", "``` x `y`",
    "````", "<!--", "-->", "<!-- one line -->", "text <!-- opens", "closes --> after T001.001",
    "<!-- - [ ] T003.001 hidden -->", "details: after T001.002", "blocked by: legal",
    "blocked by:", "- plain bullet T001.003", "| T001.004 | table |", "Priority: P0",
    "x\x00", "P1", "\r", "paragraph T001.005",
]


@st.composite
def task_line(draw: st.DrawFn) -> str:
    indent = draw(st.sampled_from(INDENTS))
    marker = draw(st.sampled_from(MARKERS))
    space = draw(st.sampled_from([" ", " ", "  ", "\t", ""]))
    box = draw(st.sampled_from(BOXES))
    after = draw(st.sampled_from([" ", " ", "  ", "\t", ""]))
    text = draw(st.sampled_from(TEXTS))
    return f"{indent}{marker}{space}{box}{after}{text}"


@st.composite
def other_line(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(INDENTS)) + draw(st.sampled_from(OTHER))


lines = st.lists(
    st.one_of(task_line(), task_line(), other_line(), st.text(max_size=12)), max_size=30
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    chosen = draw(lines)
    ending = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    final = draw(st.sampled_from(["", ending]))
    return ending.join(chosen) + final


@settings(max_examples=1500, deadline=None)
@given(documents())
def test_fast_and_line_by_line_readers_agree(text: str) -> None:
    assert_agree(text)


@settings(max_examples=300, deadline=None)
@given(documents(), st.sampled_from([r"T\d{3}\.\d{3}\b", r"(?P<milestone>T\d+)\.\d+", r"(?i)t\d{3}\.\d+"]))
def test_readers_agree_under_custom_patterns(text: str, source: str) -> None:
    assert_agree(text, IdPattern.compile(source))


@pytest.mark.parametrize(
    "text",
    [
        "- [ ] T001.001 a\n```\n- [ ] T001.002 in code\n```\n- [ ] T001.003 c\n",
        "- [ ] T001.001 a\n  ```\n  - [ ] T001.002 in code\n  ```\n  after T001.003\n",
        "- [ ] T001.001 a <!--\n- [ ] T001.002 hidden\n-->- [ ] T001.003 visible? \n",
        "- [ ] T001.001 a <!-- agent: Running -->\r\n- [x] T001.002 b\r\n",
        "- [ ] T001.001 a\n\t- [ ] T001.002 b\n\t\tmore T001.003\n  - [ ] T001.003 c\n",
        "\t- [ ] T001.001 tab\n    - [ ] T001.002 four spaces is the same column\n",
        "- [ ] T001.001 a\n\n\n  still a: T001.002\n- [ ] T001.002 b\n",
        "- [ ] T001.001 a\r\r\n- [ ]\r\n- [ ] T001.002 b\r",
        "# H\n- [ ] T001.001 a\n  # inside\n  after T001.002\n# H2\n- [ ] T001.002 b",
        "``` <!-- x\n- [ ] T001.001 in code\n```\n- [ ] T001.002 in comment\n-->\n",
        "- [ ] T001.001 " + "word " * 20_000 + "\n- [ ] T001.002 b\n",
        "- [ ] T001.001 a\n" + " " * 70_000 + "\n- [ ] T001.002 b\n",
        "1\u0661. [ ] T001.001 digit\n\u0661. [ ] T001.002 not a marker\n",
    ],
)
def test_readers_agree_on_tricky_files(text: str) -> None:
    assert_agree(text)


def test_readers_agree_on_the_sample_and_the_benchmark_plans() -> None:
    from bench.bench_sync import generated_plan

    assert_agree((REPO / "examples/plans/sample-plan.md").read_text())
    assert_agree(generated_plan(1000))
    assert_agree(generated_plan(1000).replace("\n", "\r\n"))
    with_status = re.sub(r"(?m)^(- \[ \] T\d{3}\.\d{3}[^\n]*)$", r"\1 <!-- agent: Running -->",
                         generated_plan(300))
    assert_agree(with_status)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="Tt P0123456789._-x\u0661\n", max_size=40))
def test_the_literal_first_expressions_find_what_the_general_ones_do(text: str) -> None:
    general = re.compile(r"(?<![A-Za-z0-9])(?:T\d{3}\.\d{3})(?![A-Za-z0-9])")
    assert IdPattern.compile().regex is ids._DEFAULT_REGEX
    assert ids._DEFAULT_REGEX.findall(text) == general.findall(text)
    priority = re.compile(r"(?<![A-Za-z0-9_])P(\d++)(?![A-Za-z0-9_])")
    assert markdown._PRIORITY_TOKEN.findall(text) == priority.findall(text)
    almost = re.compile(r"(?<![A-Za-z0-9])[Tt]\d{1,5}[.\-_]\d{1,5}(?![A-Za-z0-9])")
    assert markdown._ALMOST_DEFAULT_ID.findall(text) == almost.findall(text)
