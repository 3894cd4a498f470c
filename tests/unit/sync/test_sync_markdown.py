"""The markdown format, rule by rule (docs/markdown-format.md). Pure: text in, tasks out."""

from __future__ import annotations

import pytest
from agent_sync.ids import IdPattern
from agent_sync.markdown import parse


def one(text: str):  # type: ignore[no-untyped-def]
    parsed = parse(text)
    assert len(parsed.tasks) == 1, parsed
    return parsed.tasks[0]


@pytest.mark.parametrize("marker", ["-", "*", "+", "1.", "12)"])
def test_any_list_marker_makes_a_task(marker: str) -> None:
    task = one(f"{marker} [ ] T001.001 Write it\n")
    assert task.task_id == "T001.001"
    assert task.title == "Write it"
    assert not task.done


@pytest.mark.parametrize("box", ["x", "X"])
def test_ticked_box_is_done(box: str) -> None:
    assert one(f"- [{box}] T001.001 Done already\n").done


def test_first_id_is_the_task_every_other_id_a_dependency() -> None:
    task = one(
        "- [ ] T001.003 Ship it after T001.001 (deps: T001.002)\n"
        "  depends on T002.001, requires T002.002\n"
    )
    assert task.task_id == "T001.003"
    assert task.depends_on == ("T001.001", "T001.002", "T002.001", "T002.002")


def test_nested_task_is_its_own_task_not_a_dependency() -> None:
    parsed = parse(
        "- [ ] T001.001 Parent\n"
        "  - [ ] T001.002 Child after T001.009\n"
        "  back in the parent: T001.005\n"
    )
    parent, child = parsed.tasks
    assert parent.depends_on == ("T001.005",)
    assert child.depends_on == ("T001.009",)
    assert (parent.line, child.line) == (1, 2)


def test_plain_nested_bullet_is_part_of_the_task_text() -> None:
    task = one("- [ ] T001.002 Two\n    - after T001.001\n")
    assert task.depends_on == ("T001.001",)
    assert "after T001.001" in task.description


def test_unindented_line_ends_the_item() -> None:
    parsed = parse("- [ ] T001.002 Two\nT001.001 is mentioned in a paragraph\n")
    assert parsed.tasks[0].depends_on == ()


def test_blank_line_inside_an_item_keeps_it_open() -> None:
    task = one("- [ ] T001.002 Two\n\n  still the item: after T001.001\n")
    assert task.depends_on == ("T001.001",)


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("- [ ] T001.001 Do it P0\n", "P0"),
        ("- [ ] T001.001 Do it [P1]\n", "P1"),
        ("- [ ] T001.001 Do it **P3**\n", "P3"),
        ("- [ ] T001.001 Do it `P1`\n", "P1"),
        ("- [ ] T001.001 Do it Priority: P0\n", "P0"),
        ("- [ ] T001.001 Do it (P1)\n", "P1"),
        ("- [ ] T001.001 Do it\n", "P2"),
        ("- [ ] T001.001 Peer to peer P2P and MP3 files\n", "P2"),
        ("- [ ] T001.001 Do it\n  Priority: P0\n", "P0"),
    ],
)
def test_priority_forms(text: str, priority: str) -> None:
    assert one(text).priority == priority


def test_gate_without_id_is_a_gate_and_with_id_a_dependency() -> None:
    task = one(
        "- [ ] T002.005 Provision the cluster\n"
        "  blocked by: security review of the network design.\n"
        "  blocked by: T001.001\n"
    )
    assert task.gates == ("security review of the network design",)
    assert task.depends_on == ("T001.001",)


def test_gate_inside_parentheses_stops_at_the_parenthesis() -> None:
    task = one("- [ ] T001.001 Deploy (blocked by: Infrastructure FDB operational) P1\n")
    assert task.gates == ("Infrastructure FDB operational",)
    assert task.priority == "P1"


def test_code_blocks_and_comments_are_left_alone() -> None:
    parsed = parse(
        "```\n- [ ] T001.001 in code\n```\n"
        "~~~~md\n- [ ] T001.002 in tilde code\n~~~~\n"
        "<!--\n- [ ] T001.003 in a comment\n-->\n"
        "<!-- - [ ] T001.004 inline comment -->\n"
        "- [ ] T001.005 real\n"
    )
    assert [t.task_id for t in parsed.tasks] == ["T001.005"]
    assert parsed.problems == ()


def test_checkbox_without_id_plain_bullets_and_tables_are_not_tasks() -> None:
    parsed = parse(
        "- [ ] buy milk\n- a plain bullet T001.001\n| T001.002 | table |\n|---|---|\n"
    )
    assert parsed.tasks == ()


def test_id_must_be_on_the_first_line() -> None:
    assert parse("- [ ] A reminder\n  mentions T001.001\n").tasks == ()


def test_heading_is_recorded_and_id_prefix_is_the_milestone() -> None:
    task = one("# Intro\n## T003 Payments API ##\n- [ ] T003.002 Build POST /payments\n")
    assert task.heading == "T003 Payments API"
    assert task.milestone == "T003"


def test_status_comment_is_ignored_but_located() -> None:
    text = "- [ ] T001.001 Run it <!-- agent: Running -->  \n"
    task = one(text)
    assert task.title == "Run it"
    assert task.status == "Running"
    assert task.status_span is not None
    assert text[task.status_span[0]: task.status_span[1]] == " <!-- agent: Running -->"


def test_checkbox_offset_points_at_the_state_character_with_crlf_and_unicode() -> None:
    text = "# Ünïcode 🚀\r\n\t- [ ] T001.001 Café ☕\r\n  1. [x] T001.002 two\r\n"
    parsed = parse(text)
    assert [text[t.checkbox_offset] for t in parsed.tasks] == [" ", "x"]
    assert parsed.tasks[0].title == "Café ☕"
    assert text[parsed.tasks[0].line_end] == "\r"


def test_title_drops_the_id_and_its_marks() -> None:
    assert one("- [ ] **T001.001**: Set up CI\n").title == "Set up CI"
    assert one("- [ ] `T001.001` - Set up CI\n").title == "Set up CI"
    assert one("- [ ] [P1] T001.001 Set up CI\n").title == "[P1] Set up CI"


def test_description_is_the_item_text_dedented() -> None:
    task = one("- [ ] T001.001 Title\n  First detail\n    indented more\n")
    assert task.description == "T001.001 Title\nFirst detail\n  indented more"


def test_id_is_matched_as_a_whole_word() -> None:
    assert parse("- [ ] XT001.001 no\n- [ ] T001.0012 no\n").tasks == ()


def test_configurable_id_pattern() -> None:
    pattern = IdPattern.compile(r"PAY-\d+")
    parsed = parse("- [ ] PAY-12 Refunds after PAY-7 P1\n- [ ] PAY-7 Payments\n", pattern)
    refunds, payments = parsed.tasks
    assert refunds.task_id == "PAY-12"
    assert refunds.depends_on == ("PAY-7",)
    assert refunds.milestone == "PAY"
    assert payments.task_id == "PAY-7"


def test_named_milestone_group_in_the_pattern() -> None:
    pattern = IdPattern.compile(r"(?P<milestone>M\d+)-\d+")
    assert parse("- [ ] M2-14 Do it\n", pattern).tasks[0].milestone == "M2"


def test_a_bad_line_never_stops_the_rest() -> None:
    parsed = parse(
        "- [~] T001.001 what state?\n- [ ] T001.002 fine\n- [x] T001.002 again\n"
        "- [ ] T001.003 also fine\n"
    )
    assert [t.task_id for t in parsed.tasks] == ["T001.002", "T001.003"]
    assert parsed.held_ids == {"T001.001"}
    assert {p.code for p in parsed.problems} == {"unreadable-checkbox", "duplicate-id"}


def test_missing_final_newline_and_empty_file() -> None:
    assert one("- [ ] T001.001 Last line").line_end == len("- [ ] T001.001 Last line")
    assert parse("").tasks == ()


def test_sample_plan_parses_without_problems() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "examples/plans/sample-plan.md").read_text()
    parsed = parse(text)
    assert 25 <= len(parsed.tasks) <= 30
    assert parsed.problems == ()
    assert any(t.done for t in parsed.tasks)
    assert any(t.gates for t in parsed.tasks)
    assert "T004.006" not in parsed.by_id()  # inside an HTML comment


from agent_sync.lint import lint  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

markdownish = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from([
            "- [ ] T001.001 a", "- [x] T001.002 after T001.001", "  - [~] T001.003 b",
            "```", "~~~", "<!--", "-->", "# T002", "- [ ] T001.001 dup P9",
            "  blocked by:", "\t* [X] T001.004 Priority: soon", "1. [ ] T001.005 after T001.005",
        ]),
    ),
    max_size=25,
).map(lambda lines: "\n".join(lines))


@given(markdownish)
def test_any_text_parses_and_every_problem_has_a_real_line(text: str) -> None:
    parsed = parse(text)
    line_count = text.count("\n") + 1
    for problem in lint(parsed):
        assert 1 <= problem.line <= line_count
        assert problem.message
    for task in parsed.tasks:
        assert text[task.checkbox_offset] in " xX"
        assert task.priority in ("P0", "P1", "P2", "P3")
        assert task.task_id not in task.depends_on


def test_a_heading_inside_an_item_stays_in_the_item() -> None:
    parsed = parse("# M1\n- [ ] T001.002 Two\n  ## Notes\n  after T001.001\n# M2\n- [ ] T001.001 One\n")
    two, one = parsed.tasks
    assert two.depends_on == ("T001.001",)
    assert (two.heading, one.heading) == ("M1", "M2")
