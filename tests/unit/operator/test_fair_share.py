"""The global cap shared fairly among namespaces, through the real dispatcher's passes."""

from __future__ import annotations

import datetime

from operator_world import T0, World, task


def _running_by_namespace(world: World) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (namespace, _), job in world.objects["Job"].items():
        if not job.get("status", {}).get("conditions"):
            counts[namespace] = counts.get(namespace, 0) + 1
    return counts


def _finish(world: World, namespace: str) -> None:
    for (ns, _name), job in sorted(world.objects["Job"].items()):
        if ns == namespace and not job.get("status", {}).get("conditions"):
            job = dict(job, status={"conditions": [{"type": "Complete", "status": "True"}]})
            world.put(job)
            return
    raise AssertionError(f"nothing runs in {namespace}")


def test_a_namespace_with_many_p0_tasks_does_not_starve_another() -> None:
    flood = [task(f"a{i:03}", namespace="a", priority="P0") for i in range(200)]
    world = World(*flood, task("b-late", namespace="b", priority="P3"), max_concurrent=5)
    world.step()
    assert _running_by_namespace(world) == {"a": 4, "b": 1}
    assert world.status("b-late", "b").phase == "Running"


def test_free_slots_go_to_the_namespace_with_fewest_running() -> None:
    flood = [task(f"a{i:03}", namespace="a", priority="P0") for i in range(50)]
    world = World(*flood, max_concurrent=5)
    world.step()
    assert _running_by_namespace(world) == {"a": 5}  # nobody else: A takes the whole cap
    later = T0 + datetime.timedelta(minutes=5)
    world.put(task("b1", namespace="b", priority="P3", created=later))
    world.put(task("b2", namespace="b", priority="P3", created=later))
    world.step()
    assert _running_by_namespace(world) == {"a": 5}  # nothing is stopped to make room
    assert world.status("b1", "b").phase == "Queued"
    _finish(world, "a")
    world.step()
    assert _running_by_namespace(world) == {"a": 4, "b": 1}  # the freed slot goes to B
    _finish(world, "a")
    world.step()
    assert _running_by_namespace(world) == {"a": 3, "b": 2}


def test_round_robin_and_priority_order_within_each_namespace() -> None:
    objects = [
        task("a-p3", namespace="a", priority="P3"),
        task("a-p0", namespace="a", priority="P0"),
        task("a-p1", namespace="a", priority="P1"),
        task("b-p2", namespace="b", priority="P2"),
        task("b-p1", namespace="b", priority="P1"),
        task("c-p3", namespace="c", priority="P3"),
    ]
    world = World(*objects, max_concurrent=4)
    decision = world.step()
    started = {d.key for d in decision.dispatches}
    assert started == {("a", "a-p0"), ("b", "b-p1"), ("c", "c-p3"), ("a", "a-p1")}
    queued = [key for key in decision.queue if key not in started]
    assert queued == [("a", "a-p3"), ("b", "b-p2")]


def test_weights_divide_the_cap_in_proportion() -> None:
    objects = [task(f"a{i}", namespace="a") for i in range(20)]
    objects += [task(f"b{i}", namespace="b") for i in range(20)]
    world = World(*objects, max_concurrent=6, namespace_weights={"a": 2})
    world.step()
    assert _running_by_namespace(world) == {"a": 4, "b": 2}
