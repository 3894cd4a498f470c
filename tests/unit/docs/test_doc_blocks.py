"""The doc-test markers of the README and the user guide are well formed, and every
shell block is either run by tests/e2e/test_doc_commands.py or skipped with a reason.

No cluster: the pages are read as text (tests/doc_blocks.py); the e2e test runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_blocks import (
    FRESH_PAGES,
    MARKER_BODY,
    REFERENCE_PAGES,
    REPO,
    all_blocks,
    blocks,
    guide_pages,
    markers,
)

PAGE_IDS = {"ids": lambda p: str(p.relative_to(REPO))}


@pytest.mark.parametrize("path", guide_pages(), **PAGE_IDS)
def test_every_block_says_what_it_holds(path: Path) -> None:
    """An untagged block could hide a command from the doc-tests: `text` for the rest."""
    untagged = [b.where for b in blocks(path) if not b.info]
    assert not untagged, f"fenced blocks without an info string (sh, console, yaml, text...): {untagged}"


@pytest.mark.parametrize("path", guide_pages(), **PAGE_IDS)
def test_every_marker_is_understood_and_belongs_to_a_block(path: Path) -> None:
    page_blocks = blocks(path)
    attached = {b.line - 1 for b in page_blocks if b.marker is not None}
    for line, body in markers(path):
        where = f"{path.relative_to(REPO)}:{line}"
        assert MARKER_BODY.match(body), (
            f"{where}: unknown doc-test marker {body!r}: use 'skip (reason)', 'last', "
            "'exit N' or 'file NAME'")
        assert line in attached, f"{where}: a doc-test marker must be the line before a block"
    for block in page_blocks:
        if block.marker is None:
            continue
        if block.file:
            assert not block.shell, f"{block.where}: a `file` marker is for a file's content"
        else:
            assert block.shell, f"{block.where}: {block.marker!r} is for sh and console blocks"


def test_every_page_with_commands_is_run() -> None:
    """A page with a shell block that is not skipped must be one the e2e test runs."""
    running = {b.page for b in all_blocks() if b.runs}
    listed = set(FRESH_PAGES) | set(REFERENCE_PAGES)
    assert running <= listed, (
        f"pages with commands that no doc-test runs: {sorted(running - listed)}; add them to "
        "FRESH_PAGES or REFERENCE_PAGES in tests/doc_blocks.py, or mark the blocks skipped")
    assert listed <= running, f"listed pages without a command to run: {sorted(listed - running)}"


def test_every_run_block_has_commands() -> None:
    empty = [b.where for b in all_blocks() if b.runs and not b.script().strip()]
    assert not empty, f"shell blocks without a command (console blocks need '$ ' lines): {empty}"


def test_the_install_steps_run() -> None:
    """The README's install block and the quick start's are never skipped."""
    for page, command in [("README.md", "helm install"), ("docs/quick-start.md", "helm install")]:
        installs = [b for b in blocks(REPO / page) if b.shell and command in b.text]
        assert installs and all(b.runs for b in installs), page


def test_blocks_are_read_as_the_doc_tests_run_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n"
        "<!-- doc-test: skip (needs GKE) -->\n```sh\ngcloud container clusters list\n```\n\n"
        "- In a list:\n  <!-- doc-test: exit 1 -->\n  ```console\n  $ agent-sync diff a.md \\\n"
        "      --plan p\n  output line\n  $ echo done\n  done\n  ```\n\n"
        "<!-- doc-test: file my-values.yaml -->\n```yaml\nreplicaCount: 1\n```\n\n"
        "```text\nnot a command\n```\n",
        encoding="utf-8",
    )
    import tests.doc_blocks as doc_blocks

    saved = doc_blocks.REPO
    doc_blocks.REPO = tmp_path
    try:
        found = blocks(page)
    finally:
        doc_blocks.REPO = saved
    skipped, listed, values, text = found
    assert (skipped.line, skipped.skip_reason, skipped.runs) == (4, "needs GKE", False)
    assert listed.runs and listed.exit_code == 1
    assert listed.script() == "agent-sync diff a.md \\\n    --plan p\necho done\n"
    assert (values.file, values.text, values.shell) == ("my-values.yaml", "replicaCount: 1\n", False)
    assert text.info == "text" and not text.runs and text.marker is None
