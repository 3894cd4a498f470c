"""A plan's dependency graph as text: an indented tree, Graphviz DOT or Mermaid.

Input is the plan document of `views.plan` (its `tasks` rows); edges run from a
dependency to the task that needs it.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

MARKS = {
    "Succeeded": "✓",
    "Failed": "✗",
    "Running": "▶",
    "Retrying": "↻",
    "Queued": "…",
    "Blocked": "■",
    "Cancelled": "⊘",
    "Pending": "·",
    "AwaitingReview": "◔",
    "Rejected": "✗",
}
COLOURS = {  # the web page's colours, per phase
    "Succeeded": "#2e7d32",
    "Failed": "#c62828",
    "Running": "#1565c0",
    "Retrying": "#ef6c00",
    "Queued": "#6a1b9a",
    "Blocked": "#757575",
    "Cancelled": "#4e342e",
    "Pending": "#9e9e9e",
    "AwaitingReview": "#00838f",
    "Rejected": "#ad1457",
}


def _index(rows: list[Row]) -> tuple[dict[str, Row], dict[str, list[str]]]:
    by_id = {row["taskId"]: row for row in rows}
    dependents: dict[str, list[str]] = {tid: [] for tid in by_id}
    for row in rows:
        for dep in row["dependsOn"]:
            if dep in by_id:
                dependents[dep].append(row["taskId"])
    for children in dependents.values():
        children.sort()
    return by_id, dependents


def tree(rows: list[Row]) -> str:
    """Roots (tasks with no dependency in the plan) first; each task's dependents under
    it. A task with several dependencies appears once in full, then as a reference."""
    by_id, dependents = _index(rows)
    roots = sorted(t for t, r in by_id.items() if not any(d in by_id for d in r["dependsOn"]))
    lines: list[str] = []
    shown: set[str] = set()

    def label(tid: str) -> str:
        row = by_id[tid]
        phase = row["phase"]
        missing = [d for d in row["dependsOn"] if d not in by_id]
        extra = f" (missing: {', '.join(missing)})" if missing else ""
        return f"{MARKS.get(phase, '?')} {tid} {row['title']} [{phase}]{extra}"

    def walk(tid: str, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        if tid in shown:
            lines.append(f"{prefix}{branch}{tid} (above)")
            return
        shown.add(tid)
        lines.append(f"{prefix}{branch}{label(tid)}")
        children = dependents[tid]
        inner = prefix if top else prefix + ("    " if last else "│   ")
        for i, child in enumerate(children):
            walk(child, inner, i == len(children) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    for tid in sorted(by_id):  # tasks only on cycles have no root
        if tid not in shown:
            walk(tid, "", True, True)
    return "\n".join(lines) + ("\n" if lines else "")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def dot(rows: list[Row], name: str) -> str:
    """Graphviz: `agentctl graph PLAN --format dot | dot -Tsvg > plan.svg`."""
    out = [
        f'digraph "{_quote(name)}" {{',
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontcolor=white, fontname="sans-serif"];',
    ]
    by_id, _ = _index(rows)
    for tid in sorted(by_id):
        row = by_id[tid]
        colour = COLOURS.get(row["phase"], "#9e9e9e")
        text = _quote(f"{tid}\n{row['title'][:40]}\n{row['phase']}").replace("\n", "\\n")
        out.append(f'  "{_quote(tid)}" [label="{text}", fillcolor="{colour}"];')
    for tid in sorted(by_id):
        for dep in by_id[tid]["dependsOn"]:
            if dep in by_id:
                out.append(f'  "{_quote(dep)}" -> "{_quote(tid)}";')
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_id(tid: str) -> str:
    return "t_" + "".join(c if c.isalnum() else "_" for c in tid)


def mermaid(rows: list[Row]) -> str:
    """A Mermaid flowchart (GitHub renders it in markdown)."""
    by_id, _ = _index(rows)
    out = ["flowchart LR"]
    for tid in sorted(by_id):
        row = by_id[tid]
        title = row["title"][:40].replace('"', "'")
        out.append(f'  {_mermaid_id(tid)}["{tid}<br/>{title}"]:::{row["phase"].lower()}')
    for tid in sorted(by_id):
        for dep in by_id[tid]["dependsOn"]:
            if dep in by_id:
                out.append(f"  {_mermaid_id(dep)} --> {_mermaid_id(tid)}")
    for phase, colour in COLOURS.items():
        out.append(f"  classDef {phase.lower()} fill:{colour},color:#fff")
    return "\n".join(out) + "\n"
