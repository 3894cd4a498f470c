"""Status comments of tasks under review carry their pull request's URL, and parse back."""

from __future__ import annotations

from agent_sync import writeback
from agent_sync.markdown import parse
from agent_sync.writeback import Observed

URL = "https://github.com/acme/app/pull/7"


def seen(phase: str, url: str | None = URL) -> Observed:
    return Observed(done=False, phase=phase, current=True, pull_url=url)


def test_awaiting_review_and_rejected_show_the_pull_request() -> None:
    text = "- [ ] T001.001 One\n- [ ] T001.002 Two\n- [ ] T001.003 Three\n"
    change = writeback.decide(
        parse(text),
        {"T001.001": seen("AwaitingReview"), "T001.002": seen("Rejected"),
         "T001.003": seen("Running")},
    )
    assert change.statuses == {
        "T001.001": f"AwaitingReview {URL}",
        "T001.002": f"Rejected {URL}",
        "T001.003": "Running",
    }
    written = writeback.apply(text, parse(text), change)
    assert written.splitlines()[0] == f"- [ ] T001.001 One <!-- agent: AwaitingReview {URL} -->"
    # Parsed back: the same status (nothing more to write) and the title without it.
    again = parse(written)
    assert [t.status for t in again.tasks] == [f"AwaitingReview {URL}", f"Rejected {URL}", "Running"]
    assert again.tasks[0].title == "One"
    observed = {"T001.001": seen("AwaitingReview"), "T001.002": seen("Rejected"),
                "T001.003": seen("Running")}
    assert not writeback.decide(again, observed).changes_file


def test_a_url_that_could_break_the_comment_is_left_out() -> None:
    parsed = parse("- [ ] T001.001 One\n")
    for bad in ("https://x/pull/1 -->", "https://x/<b>", "has space"):
        change = writeback.decide(parsed, {"T001.001": seen("AwaitingReview", bad)})
        assert change.statuses == {"T001.001": "AwaitingReview"}


def test_merged_ticks_the_box_and_drops_the_comment() -> None:
    text = f"- [ ] T001.001 One <!-- agent: AwaitingReview {URL} -->\n"
    change = writeback.decide(parse(text), {"T001.001": seen("Succeeded")})
    assert change.ticks == {"T001.001"}
    assert writeback.apply(text, parse(text), change) == "- [x] T001.001 One\n"
