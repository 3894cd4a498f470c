"""Write-back: only checkbox characters and status comments ever change.

The property tests generate files with every kind of line (tasks, nested tasks, code,
comments, unicode, tabs, trailing spaces, CRLF, no final newline) and random status
to write back, and check the result against the original character by character.
"""

from __future__ import annotations

import re

from agent_sync import writeback
from agent_sync.markdown import parse
from agent_sync.writeback import Observed, WriteBack
from hypothesis import given
from hypothesis import strategies as st

PHASES = ["Pending", "Blocked", "Queued", "Running", "Retrying", "Failed", "Cancelled"]
STATUS = re.compile(r" <!-- agent: [A-Za-z]+ -->(?=[ \t]*(?:\r?\n|$))")


def without_status(text: str) -> str:
    return STATUS.sub("", text)


def only_checkboxes_differ(before: str, after: str) -> bool:
    """True when the texts differ only where an open box `[ ]` became `[x]`."""
    old, new = without_status(before), without_status(after)
    if len(old) != len(new):
        return False
    for index, (a, b) in enumerate(zip(old, new, strict=True)):
        ticked = a == " " and b == "x" and old[index - 1] == "[" and old[index + 1] == "]"
        if a != b and not ticked:
            return False
    return True


words = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,:;-_()*é☕🚀ü\t")), min_size=0, max_size=25
)
trailing = st.sampled_from(["", " ", "  ", "\t", " \t "])


@st.composite
def plan_files(draw: st.DrawFn) -> str:
    lines: list[str] = []
    next_id = 1
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["task", "task", "task", "nested", "text", "code",
                                     "comment", "heading", "blank", "continuation"]))
        if kind in ("task", "nested"):
            indents = ["", "", "  ", "\t", "    "] if kind == "nested" else [""]
            indent = draw(st.sampled_from(indents))
            marker = draw(st.sampled_from(["-", "*", "+", "1.", "2)"]))
            box = draw(st.sampled_from([" ", " ", "x", "X"]))
            phase = draw(st.sampled_from(PHASES))
            status = draw(st.sampled_from(["", "", f" <!-- agent: {phase} -->"]))
            dep = draw(st.sampled_from(["", f" after T001.{max(1, next_id - 1):03d}"]))
            title = draw(words)
            lines.append(
                f"{indent}{marker} [{box}] T001.{next_id:03d} {title}{dep}{status}{draw(trailing)}"
            )
            next_id += 1
        elif kind == "text":
            lines.append(draw(words) + draw(trailing))
        elif kind == "continuation":
            lines.append("  " + draw(words))
        elif kind == "code":
            lines.extend(["```", f"- [ ] T009.{next_id:03d} in code", "```"])
        elif kind == "comment":
            lines.extend(["<!--", f"- [ ] T008.{next_id:03d} in comment", "-->"])
        elif kind == "heading":
            lines.append(f"## T00{draw(st.integers(1, 5))} {draw(words)}")
        else:
            lines.append("")
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines)
    if lines and draw(st.booleans()):
        text += ending
    return text


@st.composite
def files_and_changes(draw: st.DrawFn) -> tuple[str, WriteBack]:
    text = draw(plan_files())
    parsed = parse(text)
    ticks = set()
    statuses: dict[str, str | None] = {}
    for task in parsed.tasks:
        if draw(st.booleans()):
            ticks.add(task.task_id)
        choice = draw(st.sampled_from([None, "keep", *PHASES]))
        if choice != "keep":
            statuses[task.task_id] = choice
    return text, WriteBack(ticks=frozenset(ticks), statuses=statuses)


@given(files_and_changes())
def test_write_back_changes_only_checkbox_characters_and_status_comments(
    case: tuple[str, WriteBack],
) -> None:
    text, change = case
    after = writeback.apply(text, parse(text), change)
    assert only_checkboxes_differ(text, after)


@given(files_and_changes())
def test_write_back_keeps_every_task_and_shows_what_was_decided(
    case: tuple[str, WriteBack],
) -> None:
    text, change = case
    before = parse(text)
    after = parse(writeback.apply(text, before, change))
    assert [t.task_id for t in after.tasks] == [t.task_id for t in before.tasks]
    for old, new in zip(before.tasks, after.tasks, strict=True):
        assert (new.title, new.depends_on) == (old.title, old.depends_on)
        assert new.priority == old.priority
        assert new.done == (old.done or old.task_id in change.ticks)
        wanted = change.statuses.get(old.task_id, old.status)
        assert new.status == wanted


@given(plan_files())
def test_removing_every_status_comment_restores_the_original(text: str) -> None:
    parsed = parse(text)
    shown = WriteBack(statuses={t.task_id: "Running" for t in parsed.tasks})
    with_status = writeback.apply(text, parsed, shown)
    cleared = WriteBack(statuses={t.task_id: None for t in parsed.tasks})
    restored = writeback.apply(with_status, parse(with_status), cleared)
    assert restored == without_status(text)


def test_tick_changes_one_byte_and_keeps_crlf_tabs_and_no_final_newline() -> None:
    text = "# Plan ☕\r\n\t- [ ] T001.001 Café  \r\n- [ ] T001.002 two\t"
    after = writeback.apply(text, parse(text), WriteBack(ticks=frozenset({"T001.001", "T001.002"})))
    assert after == "# Plan ☕\r\n\t- [x] T001.001 Café  \r\n- [x] T001.002 two\t"


def test_status_comment_is_added_replaced_and_removed() -> None:
    text = "- [ ] T001.001 One  \n"
    added = writeback.apply(text, parse(text), WriteBack(statuses={"T001.001": "Running"}))
    assert added == "- [ ] T001.001 One   <!-- agent: Running -->\n"
    replaced = writeback.apply(added, parse(added), WriteBack(statuses={"T001.001": "Failed"}))
    assert replaced == "- [ ] T001.001 One   <!-- agent: Failed -->\n"
    removed = writeback.apply(replaced, parse(replaced), WriteBack(statuses={"T001.001": None}))
    assert removed == text


def observe(
    phase: str | None, *, done: bool = False, current: bool = True, ticked: bool = False
) -> Observed:
    return Observed(done=done, phase=phase, current=current, ticked=ticked)


def test_decide_ticks_a_succeeded_open_task() -> None:
    parsed = parse("- [ ] T001.001 One <!-- agent: Running -->\n")
    change = writeback.decide(parsed, {"T001.001": observe("Succeeded")})
    assert change.ticks == {"T001.001"}
    assert change.statuses == {"T001.001": None}
    assert change.reruns == frozenset()


def test_decide_ignores_a_stale_success_from_an_earlier_run() -> None:
    parsed = parse("- [ ] T001.001 One\n")
    change = writeback.decide(parsed, {"T001.001": observe("Succeeded", current=False)})
    assert not change.ticks and not change.changes_file


def test_decide_reruns_a_task_a_person_unticked() -> None:
    parsed = parse("- [ ] T001.001 One\n")
    change = writeback.decide(parsed, {"T001.001": observe("Succeeded", done=True)})
    assert change.reruns == {"T001.001"}
    assert not change.ticks
    ticked_by_the_sidecar = observe("Succeeded", ticked=True)
    change = writeback.decide(parsed, {"T001.001": ticked_by_the_sidecar})
    assert change.reruns == {"T001.001"}
    assert not change.ticks


def test_decide_leaves_a_ticked_box_alone() -> None:
    parsed = parse("- [x] T001.001 One\n")
    assert writeback.decide(parsed, {"T001.001": observe("Succeeded", done=True)}) == WriteBack()
    assert writeback.decide(parsed, {"T001.001": observe("Running")}) == WriteBack()


def test_decide_shows_status_by_mode() -> None:
    parsed = parse("- [ ] T001.001 One\n- [ ] T001.002 Two\n- [ ] T001.003 Three\n")
    seen = {"T001.001": observe("Running"), "T001.002": observe("Blocked"),
            "T001.003": observe(None)}
    assert writeback.decide(parsed, seen, "active").statuses == {"T001.001": "Running"}
    assert writeback.decide(parsed, seen, "all").statuses == {
        "T001.001": "Running", "T001.002": "Blocked"}
    assert writeback.decide(parsed, seen, "none").statuses == {}


def test_decide_skips_tasks_not_yet_in_the_cluster() -> None:
    assert writeback.decide(parse("- [ ] T001.001 One\n"), {}) == WriteBack()
