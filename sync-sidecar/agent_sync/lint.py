"""Problems that span tasks: unknown dependencies, cycles, done before a dependency.

`markdown.parse` reports what one line can show (duplicates, bad checkboxes, bad
priorities, self-dependencies); this module adds what needs the whole graph. Every
problem is independent: one bad task never hides another's problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from agent_api import graph

from agent_sync.ids import IdPattern
from agent_sync.markdown import ParsedPlan, Problem, Task, parse


def lint_text(text: str, pattern: IdPattern | None = None) -> list[Problem]:
    """Every problem in a file's text, ordered by line."""
    return lint(parse(text, pattern))


def lint(parsed: ParsedPlan) -> list[Problem]:
    problems = list(parsed.problems)
    tasks = parsed.by_id()
    held = parsed.held_ids
    # One pass over the dependencies: unknown ones, ticked tasks whose dependency is open,
    # and whether any dependency is of a task further down. When none is, every edge
    # points up the file and no cycle can exist: the cycle search is skipped.
    forward = False
    for task in parsed.tasks:
        depends = task.depends_on
        if not depends:
            continue
        line = task.line
        for dependency in depends:
            other = tasks.get(dependency)
            if other is None:
                if dependency not in held:
                    problems.append(_unknown_dependency(task, dependency))
            elif other.line > line:
                forward = True
        if task.done:
            open_ones = [d for d in depends if d in tasks and not tasks[d].done]
            if open_ones:
                problems.append(_done_before(task, open_ones))
    if forward:
        problems.extend(cycles(parsed.tasks, tasks))
    problems.sort(key=lambda problem: (problem.line, problem.severity != "error", problem.code))
    return problems


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(problem.severity == "error" for problem in problems)


def _unknown_dependency(task: Task, dependency: str) -> Problem:
    return Problem(
        task.line, "error", "unknown-dependency",
        f"line {task.line}: {task.task_id} depends on {dependency}, which is no "
        f"task in this file, so {task.task_id} would wait forever; add "
        f"{dependency} or correct the ID",
        task.task_id,
    )


def _done_before(task: Task, open_ones: list[str]) -> Problem:
    return Problem(
        task.line, "warning", "done-before-dependency",
        f"line {task.line}: {task.task_id} is ticked but depends on "
        f"{', '.join(open_ones)}, which {'is' if len(open_ones) == 1 else 'are'} "
        "not; check whether the dependency is really open",
        task.task_id,
    )


def cycles(ordered: Sequence[Task], tasks: Mapping[str, Task]) -> list[Problem]:
    """One error per dependency cycle, naming every task on it.

    Most plans have no cycle: a topological pass (Kahn) proves that cheaply first.
    """
    edges_of = {
        task.task_id: [d for d in task.depends_on if d in tasks] for task in ordered
    }
    if _acyclic(edges_of):
        return []
    # The operator's cycle finder (Tarjan), so lint and the operator agree on every cycle;
    # self-dependencies are reported on their own, so one-task components are left out.
    components = sorted(
        {members for members in graph.cycles(edges_of).values() if len(members) > 1},
        key=lambda members: min(tasks[m].line for m in members),
    )
    problems = []
    for component in components:
        members = sorted(component, key=lambda task_id: tasks[task_id].line)
        first = tasks[members[0]]
        path = _cycle_path(members[0], set(component), tasks)
        message = (
            f"line {first.line}: dependency cycle {' -> '.join(path)}: these tasks wait for "
            "each other and none can ever run; remove one of the dependencies"
        )
        if len(members) > len(path) - 1:
            message += f" (all tasks caught in it: {', '.join(members)})"
        problems.append(Problem(first.line, "error", "dependency-cycle", message, first.task_id))
    return problems


def _acyclic(edges_of: Mapping[str, list[str]]) -> bool:
    waiting = dict.fromkeys(edges_of, 0)  # how many tasks depend on each task
    for edges in edges_of.values():
        for dependency in edges:
            waiting[dependency] += 1
    free = [node for node, count in waiting.items() if count == 0]
    removed = 0
    while free:
        node = free.pop()
        removed += 1
        for dependency in edges_of[node]:
            waiting[dependency] -= 1
            if waiting[dependency] == 0:
                free.append(dependency)
    return removed == len(edges_of)


def _cycle_path(start: str, members: set[str], tasks: Mapping[str, Task]) -> list[str]:
    """The shortest cycle through start inside its component, start repeated at the end."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for dependency in tasks[node].depends_on:
                if dependency not in members:
                    continue
                if dependency == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if dependency not in previous:
                    previous[dependency] = node
                    following.append(dependency)
        frontier = following
    return [start, start]
