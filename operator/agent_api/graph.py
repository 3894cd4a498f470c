"""The dependency graph of a plan: cycles, found with Tarjan's strongly connected components.

Every task on a cycle is reported (not only the edge that closes it), so each one can
carry a condition naming the whole cycle, while the rest of the plan proceeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def cycles(edges: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Maps each task ID on a cycle to the sorted IDs of its cycle (its strongly connected
    component). `edges` maps a task ID to the IDs it depends on; IDs absent from `edges`
    (missing dependencies) are ignored. Iterative, so deep chains cannot overflow the stack.
    """
    index_of: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: dict[str, tuple[str, ...]] = {}
    counter = 0

    for root in edges:
        if root in index_of:
            continue
        work: list[tuple[str, list[str]]] = [(root, [d for d in edges[root] if d in edges])]
        index_of[root] = lowlink[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in index_of:
                    index_of[child] = lowlink[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, [d for d in edges[child] if d in edges]))
                elif child in on_stack:
                    lowlink[node] = min(lowlink[node], index_of[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index_of[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                is_cycle = len(component) > 1 or node in set(edges[node])
                if is_cycle:
                    members = tuple(sorted(component))
                    for member in component:
                        result[member] = members
    return result
