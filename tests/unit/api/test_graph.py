"""The dependency graph: cycles found with every member named."""

from __future__ import annotations

from agent_api import graph
from hypothesis import given
from hypothesis import strategies as st


def test_cycles_name_every_member_and_ignore_missing_and_acyclic_nodes() -> None:
    edges = {"A": ["B"], "B": ["C"], "C": ["A"], "D": ["A", "MISSING"], "E": ["E"], "F": []}
    found = graph.cycles(edges)
    assert found == {"A": ("A", "B", "C"), "B": ("A", "B", "C"), "C": ("A", "B", "C"), "E": ("E",)}


def test_a_long_chain_does_not_exhaust_the_stack() -> None:
    edges = {f"T{i}": [f"T{i + 1}"] for i in range(20000)}
    edges["T20000"] = ["T0"]
    assert len(graph.cycles(edges)) == 20001


@given(st.dictionaries(st.integers(0, 12), st.lists(st.integers(0, 12), max_size=4), max_size=12))
def test_cycle_members_are_exactly_the_nodes_that_reach_themselves(
    raw: dict[int, list[int]],
) -> None:
    edges = {str(k): [str(v) for v in vs] for k, vs in raw.items()}

    def reaches_itself(start: str) -> bool:
        seen, todo = set(), [d for d in edges[start] if d in edges]
        while todo:
            node = todo.pop()
            if node == start:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(d for d in edges[node] if d in edges)
        return False

    found = graph.cycles(edges)
    assert set(found) == {n for n in edges if reaches_itself(n)}
