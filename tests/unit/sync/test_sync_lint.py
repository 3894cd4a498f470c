"""Lint: every problem a person can make, each reported with its line, none hiding another."""

from __future__ import annotations

import pytest
from agent_sync.lint import has_errors, lint_text
from agent_sync.markdown import Problem


def codes(problems: list[Problem]) -> list[tuple[int, str]]:
    return [(p.line, p.code) for p in problems]


def test_clean_file_has_no_problems() -> None:
    assert lint_text("- [ ] T001.001 One\n- [ ] T001.002 Two after T001.001\n") == []


def test_duplicate_id_names_both_lines() -> None:
    problems = lint_text("- [ ] T001.001 One\n\n- [ ] T001.001 Again\n")
    assert codes(problems) == [(3, "duplicate-id")]
    assert "line 1" in problems[0].message
    assert problems[0].severity == "error"


def test_unknown_dependency() -> None:
    problems = lint_text("- [ ] T001.001 One\n- [ ] T001.002 after T009.009\n")
    assert codes(problems) == [(2, "unknown-dependency")]
    assert "T009.009" in problems[0].message


def test_cycle_names_every_task_on_it() -> None:
    problems = lint_text(
        "- [ ] T001.001 after T001.003\n- [ ] T001.002 after T001.001\n"
        "- [ ] T001.003 after T001.002\n- [ ] T001.004 outside, after T001.001\n"
    )
    assert codes(problems) == [(1, "dependency-cycle")]
    message = problems[0].message
    assert "T001.001 -> T001.003 -> T001.002 -> T001.001" in message
    assert "T001.004" not in message


def test_two_cycles_are_two_problems() -> None:
    problems = lint_text(
        "- [ ] T001.001 after T001.002\n- [ ] T001.002 after T001.001\n"
        "- [ ] T002.001 after T002.002\n- [ ] T002.002 after T002.001\n"
    )
    assert codes(problems) == [(1, "dependency-cycle"), (3, "dependency-cycle")]


def test_cycle_with_a_chord_lists_all_members() -> None:
    problems = lint_text(
        "- [ ] T001.001 after T001.002\n- [ ] T001.002 after T001.003 and T001.001\n"
        "- [ ] T001.003 after T001.001\n"
    )
    assert len(problems) == 1
    for task_id in ("T001.001", "T001.002", "T001.003"):
        assert task_id in problems[0].message


def test_self_dependency() -> None:
    problems = lint_text("- [ ] T001.001 One, after T001.001\n")
    assert codes(problems) == [(1, "self-dependency")]


@pytest.mark.parametrize(
    "line",
    [
        "- [ ] T001.001 Do it P7",
        "- [ ] T001.001 Do it [P4]",
        "- [ ] T001.001 Do it Priority: high",
        "- [ ] T001.001 Do it **Priority:** urgent",
    ],
)
def test_invalid_priority(line: str) -> None:
    problems = lint_text(line + "\n")
    assert codes(problems) == [(1, "invalid-priority")]
    assert "P0" in problems[0].message


def test_conflicting_priorities_is_a_warning() -> None:
    problems = lint_text("- [ ] T001.001 Do it P1 or maybe P3\n")
    assert codes(problems) == [(1, "conflicting-priorities")]
    assert not has_errors(problems)


@pytest.mark.parametrize("box", ["~", "-", "/", "xx", "?"])
def test_unreadable_checkbox(box: str) -> None:
    problems = lint_text(f"- [ ] T001.001 ok\n- [{box}] T001.002 what\n")
    assert codes(problems) == [(2, "unreadable-checkbox")]


def test_dependency_on_a_held_task_is_not_unknown() -> None:
    problems = lint_text("- [?] T001.001 held\n- [ ] T001.002 after T001.001\n")
    assert codes(problems) == [(1, "unreadable-checkbox")]


def test_warnings_a_person_wants() -> None:
    problems = lint_text(
        "- [x] T001.002 Done after T001.001\n"
        "- [ ] T001.001\n"
        "- [ ] T01.3 almost an ID\n"
        "- [ ] T001.003 wait (blocked by: )\n"
        "```\nunclosed\n"
    )
    assert codes(problems) == [
        (1, "done-before-dependency"),
        (2, "missing-title"),
        (3, "unrecognised-id"),
        (4, "empty-gate"),
        (5, "unclosed-code-block"),
    ]
    assert not has_errors(problems)


def test_unrecognised_ids_are_reported_for_a_custom_pattern_too() -> None:
    from agent_sync.ids import IdPattern

    problems = lint_text(
        "- [ ] PAY-1 Refunds\n"
        "- [ ] PAY1 Missing dash\n"
        "- [ ] **PYA-2** Typo in the prefix\n"
        "- [ ] T001.003 Default-style ID\n"
        "- [ ] v2 release notes\n"
        "- [ ] Buy 3 eggs\n",
        IdPattern.compile(r"PAY-\d+"),
    )
    assert codes(problems) == [(2, "unrecognised-id"), (3, "unrecognised-id"),
                               (4, "unrecognised-id")]
    assert problems[0].message.startswith(
        "line 2: 'PAY1' looks like a task ID but does not match the pattern PAY-\\d+"
    )
    assert "--id-pattern" in problems[0].message
    assert [p.severity for p in problems] == ["warning"] * 3


def test_unclosed_comment_is_reported() -> None:
    assert codes(lint_text("- [ ] T001.001 a\n<!-- open\n- [ ] T001.002 b\n")) == [
        (2, "unclosed-comment")
    ]


def test_invalid_id_from_a_loose_pattern() -> None:
    from agent_sync.ids import IdPattern

    problems = lint_text("- [ ] -bad- x\n", IdPattern.compile(r"-bad-"))
    assert codes(problems) == [(1, "invalid-id")]


def test_many_problems_all_reported_in_line_order() -> None:
    text = "".join(
        f"- [ ] T001.{i:03d} task after T009.{i:03d} P9\n" for i in range(1, 51)
    )
    problems = lint_text(text)
    assert len(problems) == 100
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_problem_json_shape() -> None:
    (problem,) = lint_text("- [ ] T001.001 after T001.001\n")
    assert problem.to_json() == {
        "line": 1, "severity": "error", "code": "self-dependency", "taskId": "T001.001",
        "message": problem.message,
    }


def test_metrics_server_reports_readiness() -> None:
    import urllib.error
    import urllib.request

    from agent_sync.metrics import Metrics, serve

    registry = Metrics()
    server = serve(registry, "127.0.0.1", 0)
    port = server.server_address[1]
    try:
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
        assert not_ready.value.code == 503
        registry.ready = True
        registry.syncs.labels("succeeded").inc()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            assert 'agent_sync_syncs_total{result="succeeded"} 1.0' in answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
