"""The command blocks of the README and the user guide, read as the doc-tests run them.

Every fenced block in README.md and docs/*.md carries an info string. The shell ones
(`sh`, and `console` transcripts, whose commands are the `$ ` lines) are run by
tests/e2e/test_doc_commands.py on a local control plane of their own, in document
order, unless a marker comment on the line before the block says otherwise:

    <!-- doc-test: skip (the reason) -->   not run; the reason is required
    <!-- doc-test: last -->                run after the page's other blocks (uninstalls)
    <!-- doc-test: exit N -->              run; exits N (kubectl diff, agent-sync diff)
    <!-- doc-test: file NAME -->           a non-shell block: written to NAME in the
                                           working folder before the page's commands run

No cluster is needed to read them: tests/unit/docs/test_doc_blocks.py checks the
markers, so that a new block is either run or visibly skipped.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELL = frozenset({"sh", "console"})
# The pages whose commands run, by the state they start from: a fresh cluster (the pages
# that install the chart), or the chart installed with the sample plan applied (the rest).
FRESH_PAGES = ("README.md", "docs/quick-start.md", "docs/operations.md")
REFERENCE_PAGES = (
    "docs/agent-mappings.md", "docs/cli.md", "docs/dependencies.md", "docs/monitoring.md",
    "docs/security.md", "docs/sync-sidecar.md", "docs/troubleshooting.md",
)
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<body>.*?)\s*-->\s*$")
MARKER_BODY = re.compile(
    r"^(?:skip \((?P<reason>.+)\)|(?P<last>last)|exit (?P<exit>\d+)|file (?P<file>[\w./-]+))$"
)


@dataclasses.dataclass(frozen=True)
class Block:
    page: str  # relative to the repository: README.md, docs/x.md
    line: int  # of the opening fence, 1-based
    info: str
    text: str  # the body, its indentation removed
    marker: str | None  # the marker comment's body, or None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def shell(self) -> bool:
        return self.info in SHELL

    @property
    def skip_reason(self) -> str | None:
        found = MARKER_BODY.match(self.marker or "")
        return found["reason"] if found and found["reason"] else None

    @property
    def last(self) -> bool:
        return self.marker == "last"

    @property
    def exit_code(self) -> int:
        found = MARKER_BODY.match(self.marker or "")
        return int(found["exit"]) if found and found["exit"] else 0

    @property
    def file(self) -> str | None:
        found = MARKER_BODY.match(self.marker or "")
        return found["file"] if found and found["file"] else None

    @property
    def runs(self) -> bool:
        return self.shell and self.skip_reason is None

    def script(self) -> str:
        """The commands of the block: a `sh` block as it is, a `console` block's `$ ` lines
        (with their continuation lines), output left out."""
        if self.info == "sh":
            return self.text
        commands: list[str] = []
        continued = False
        for line in self.text.splitlines():
            if continued:
                commands.append(line)
            elif line.startswith("$ "):
                commands.append(line[2:])
            else:
                continue
            continued = line.rstrip().endswith("\\")
        return "\n".join(commands) + "\n"


def guide_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one markdown page, with the marker before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(REPO))
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE_OPEN.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not re.match(rf"^[ \t]*{re.escape(fence)}\s*$", lines[index]):
            line = lines[index]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            index += 1
        index += 1
        previous = lines[start - 1] if start else ""
        marker = MARKER.match(previous)
        found.append(Block(page, start + 1, opening["info"], "\n".join(body) + "\n",
                           marker["body"] if marker else None))
    return found


def markers(path: Path) -> list[tuple[int, str]]:
    """Every doc-test marker of a page: (line, body)."""
    return [
        (number, found["body"])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (found := MARKER.match(line))
    ]


def all_blocks() -> list[Block]:
    return [block for path in guide_pages() for block in blocks(path)]
