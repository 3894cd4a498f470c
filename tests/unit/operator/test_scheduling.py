"""Scheduling decisions, driven pass by pass through an in-memory world (see world.py)."""

from __future__ import annotations

import dataclasses
import datetime
import json

from agent_operator import conditions
from operator_world import T0, World, plan, profile, task


def ready_reason(world: World, name: str) -> str | None:
    found = conditions.find(world.status(name).conditions, conditions.READY)
    return found.reason if found else None


def test_dependencies_run_in_order_and_dependents_start_in_the_same_pass() -> None:
    world = World(task("a"), task("b", depends_on=["A"]), task("c", depends_on=["B"]))
    world.step()
    assert world.running_jobs() == ["a-1"]
    assert world.phase("b") == "Blocked"
    assert world.status("b").blocked_by == ["A"]
    assert ready_reason(world, "b") == "WaitingForDependencies"
    world.finish_job("a-1", message=json.dumps({"status": "succeeded", "summary": "did A"}))
    world.step()
    assert world.phase("a") == "Succeeded"
    assert world.status("a").result is not None and world.status("a").result.summary == "did A"
    assert world.running_jobs() == ["b-1"]
    payload = world.task_input("b-1")
    assert payload["context"]["dependencies"] == [
        {"taskId": "A", "title": "task a", "summary": "did A"}
    ]


def test_the_runner_is_told_the_completion_checks_profile_first() -> None:
    world = World(
        profile("py", match="python", verify=["pytest -q"], expectChanges=False),
        task("a", title="python work", verify=["ruff check ."]),
    )
    world.step()
    payload = world.task_input("a-1")
    assert payload["context"]["verify"] == ["pytest -q", "ruff check ."]
    assert payload["context"]["profile"]["expectChanges"] is False


def test_priority_then_age_orders_dispatch_under_the_global_cap() -> None:
    later = T0 + datetime.timedelta(seconds=10)
    world = World(
        task("old-p2", created=T0),
        task("new-p0", created=later, priority="P0"),
        task("new-p2", created=later),
        task("old-p3", created=T0, priority="P3"),
        max_concurrent=2,
    )
    world.step()
    assert world.running_jobs() == ["new-p0-1", "old-p2-1"]
    assert world.phase("new-p2") == "Queued"
    assert "global cap of 2" in (world.status("new-p2").message or "")
    world.finish_job("new-p0-1")
    world.step()
    assert world.running_jobs() == ["new-p2-1", "old-p2-1"]


def test_plan_and_profile_caps_hold_their_slots_until_the_job_finishes() -> None:
    world = World(
        plan("p", maxConcurrent=3),
        profile("slow", match="slow", maxConcurrent=1),
        *[task(f"s{i}", plan="p", title=f"slow {i}", priority="P1") for i in range(3)],
        *[task(f"f{i}", plan="p") for i in range(3)],
        max_concurrent=10,
    )
    world.step()
    running = world.running_jobs()
    assert len(running) == 3
    assert sum(name.startswith("s") for name in running) == 1
    world.step()
    assert world.running_jobs() == running  # nothing new while the slots are held


def test_missing_and_failed_dependencies_have_their_own_reasons() -> None:
    world = World(
        task("a", maxRetries=0),
        task("b", depends_on=["A"]),
        task("c", depends_on=["NOPE"]),
    )
    world.step()
    assert ready_reason(world, "c") == "DependencyMissing"
    assert "NOPE" in (world.status("c").message or "")
    world.finish_job("a-1", ok=False, exit_code=7)
    world.step()
    assert world.phase("a") == "Failed"
    assert world.phase("b") == "Blocked"
    assert ready_reason(world, "b") == "DependencyFailed"


def test_every_task_on_a_cycle_is_named_and_the_rest_proceeds() -> None:
    world = World(
        task("x", depends_on=["Z"]),
        task("y", depends_on=["X"]),
        task("z", depends_on=["Y"]),
        task("free"),
        task("after-cycle", depends_on=["X"]),
    )
    world.step()
    for name in ("x", "y", "z"):
        assert ready_reason(world, name) == "Cycle"
        assert "X -> Y -> Z" in (world.status(name).message or "")
    assert ready_reason(world, "after-cycle") == "WaitingForDependencies"
    assert world.running_jobs() == ["free-1"]


def test_gates_block_until_removed() -> None:
    world = World(task("g", gates=["Infrastructure FDB operational"]))
    world.step()
    assert ready_reason(world, "g") == "Gated"
    assert world.status("g").blocked_by == ["Infrastructure FDB operational"]
    world.edit_spec("AgentTask", "g", gates=[])
    world.step()
    assert world.running_jobs() == ["g-1"]


def test_failures_retry_with_growing_backoff_then_fail() -> None:
    world = World(plan("p", retry={"maxRetries": 2, "backoffBaseSeconds": 2}), task("t", plan="p"))
    world.step()
    gaps = []
    for attempt in (1, 2, 3):
        assert world.running_jobs() == [f"t-{attempt}"]
        world.finish_job(f"t-{attempt}", ok=False, exit_code=8)
        world.step()
        if attempt == 3:
            break
        assert world.phase("t") == "Retrying"
        due = datetime.datetime.fromisoformat(world.status("t").next_attempt_time or "")
        gaps.append((due - world.now).total_seconds())
        world.advance(gaps[-1] - 0.5)
        world.step()
        assert world.running_jobs() == []
        world.advance(0.5)
        world.step()
    assert gaps == [2.0, 4.0]
    status = world.status("t")
    assert status.phase == "Failed"
    assert status.failed_attempts == 3
    assert [r.outcome for r in status.history] == ["Failed"] * 3
    assert status.result is not None and status.result.reason == "ToolError"
    payload = world.task_input("t-3")
    assert payload["context"]["previousFailure"]["reason"] == "ToolError"


def test_config_error_fails_at_once() -> None:
    world = World(task("t"))
    world.step()
    world.finish_job(
        "t-1", ok=False, exit_code=2, message='{"status":"failed","summary":"no API key"}'
    )
    world.step()
    assert world.phase("t") == "Failed"
    assert "no API key" in (world.status("t").message or "")
    assert world.status("t").failed_attempts == 1


def test_deadline_and_deleted_jobs_end_the_attempt() -> None:
    world = World(task("slow", maxRetries=1), task("gone", maxRetries=0))
    world.step()
    world.finish_job("slow-1", ok=False, reason="DeadlineExceeded")
    world.delete_job("gone-1")
    world.step()
    assert world.status("slow").history[0].reason == "DeadlineExceeded"
    assert world.phase("slow") == "Retrying"
    assert world.phase("gone") == "Failed"
    assert world.status("gone").history[0].reason == "JobDeleted"


def test_a_missing_report_is_a_success_with_no_report_and_bad_json_keeps_the_text() -> None:
    world = World(task("a"), task("b"))
    world.step()
    world.finish_job("a-1", message=None)
    world.finish_job("b-1", message="{not json")
    world.step()
    assert world.status("a").result is not None
    assert world.status("a").result.summary.startswith("no report")
    assert world.status("b").result is not None and world.status("b").result.summary == "{not json"


def test_suspend_cancels_without_counting_a_failure_and_resume_requeues() -> None:
    world = World(task("t"))
    world.step()
    world.edit_spec("AgentTask", "t", suspend=True)
    world.step()
    assert world.deleted_jobs == ["t-1"]
    status = world.status("t")
    assert status.phase == "Blocked" and ready_reason(world, "t") == "Suspended"
    assert status.history[-1].outcome == "Cancelled"
    assert status.failed_attempts == 0
    world.edit_spec("AgentTask", "t", suspend=False)
    world.step()
    assert world.running_jobs() == ["t-2"]
    assert world.status("t").failed_attempts == 0


def test_done_is_never_dispatched_cancels_a_running_job_and_satisfies_dependents() -> None:
    world = World(task("a"), task("done", done=True), task("b", depends_on=["DONE", "A"]))
    world.step()
    assert world.running_jobs() == ["a-1"]
    assert world.phase("done") == "Succeeded"
    world.edit_spec("AgentTask", "a", done=True)
    world.step()
    assert "a-1" in world.deleted_jobs
    assert world.phase("a") == "Succeeded"
    assert world.running_jobs() == ["b-1"]


def test_done_set_after_an_agent_succeeded_keeps_the_attempts_outcome() -> None:
    world = World(task("t"))
    world.step()
    world.finish_job("t-1", message=json.dumps({"status": "succeeded", "summary": "did T"}))
    world.step()
    world.edit_spec("AgentTask", "t", done=True)  # a ticked box applied after the success
    world.settle()
    status = world.status("t")
    succeeded = conditions.find(status.conditions, conditions.SUCCEEDED)
    assert status.phase == "Succeeded"
    assert succeeded is not None and succeeded.reason == "AttemptSucceeded"
    assert status.result is not None and status.result.summary == "did T"
    assert status.history[-1].outcome == "Succeeded" and status.attempts == 1
    assert "marked done" not in (status.message or "")
    world.edit_spec("AgentTask", "t", done=False)
    world.settle()
    assert world.running_jobs() == []  # unticking alone is no request to run again
    assert world.phase("t") == "Succeeded"


def test_rerun_starts_a_new_run_and_keeps_history() -> None:
    world = World(task("t"))
    world.step()
    world.finish_job("t-1")
    world.step()
    assert world.phase("t") == "Succeeded"
    world.edit_spec("AgentTask", "t", rerun="2026-01-02")
    world.step()
    status = world.status("t")
    assert world.running_jobs() == ["t-2"]
    assert status.attempts == 1 and status.observed_rerun == "2026-01-02"
    assert [r.number for r in status.history] == [1, 2]
    world.settle()
    assert world.running_jobs() == ["t-2"]  # the same rerun value does not start a third run


def test_a_job_created_before_a_crash_is_adopted_not_duplicated() -> None:
    world = World(task("t"))
    snap_decision = world.step(fail_creates=False)
    assert len(snap_decision.dispatches) == 1
    # Simulate the crash: the Job exists but the status write was lost.
    raw = world.get("AgentTask", "t")
    raw.pop("status")
    world.put(raw)
    world.step()
    assert world.created_jobs == ["t-1"]
    assert world.status("t").current_job == "t-1"
    assert world.status("t").attempts == 1


def test_a_failed_create_leaves_the_task_queued_for_the_next_pass() -> None:
    world = World(task("t"))
    world.step(fail_creates=True)
    assert world.phase("t") == "Queued"
    assert ready_reason(world, "t") == "JobCreateFailed"
    world.step()
    assert world.running_jobs() == ["t-1"]


def test_routing_profile_missing_and_builtin_fallback() -> None:
    world = World(
        profile("devops", match="deploy|kubernetes", order=10),
        task("named", agentProfile="nobody"),
        task("matched", title="Deploy the thing"),
        task("other", title="write docs"),
    )
    world.step()
    assert ready_reason(world, "named") == "ProfileNotFound"
    assert world.status("matched").agent_profile == "devops"
    assert world.status("matched").matched_rule == "devops: deploy|kubernetes"
    routed = conditions.find(world.status("other").conditions, conditions.ROUTED)
    assert routed is not None and routed.reason == "BuiltinFallback"
    world.put(profile("nobody"))
    world.step()
    assert world.phase("named") == "Running"


def test_a_missing_secret_key_blocks_with_its_name() -> None:
    world = World(plan("p", apiKeySecret={"name": "key", "key": "K"}), task("t", plan="p"))
    world.step()
    assert ready_reason(world, "t") == "SecretMissing"
    assert "'key'" in (world.status("t").message or "")
    world.secrets[("ns", "key")] = dataclasses.replace(
        world.cluster.secrets_default, keys=frozenset({"K"})
    )
    world.advance(11)  # the gatherer looks a Secret up again after 10 s
    world.step()
    assert world.phase("t") == "Running"


def test_a_task_naming_a_missing_plan_is_blocked_not_run_on_defaults() -> None:
    world = World(task("t", plan="nope"), task("u"))
    world.step()
    assert world.running_jobs() == ["u-1"]
    assert world.phase("t") == "Blocked"
    assert ready_reason(world, "t") == "PlanNotFound"
    assert "'nope'" in (world.status("t").message or "")
    world.put(plan("nope"))
    world.step()
    assert "t-1" in world.running_jobs()


def test_paused_plan_and_owner_reference() -> None:
    world = World(plan("p", paused=True), task("t", plan="p"))
    world.step()
    assert ready_reason(world, "t") == "PlanPaused"
    refs = world.get("AgentTask", "t")["metadata"]["ownerReferences"]
    assert (
        refs[0]["kind"] == "AgentPlan"
        and refs[0]["uid"] == world.get("AgentPlan", "p")["metadata"]["uid"]
    )
    assert "controller" not in refs[0]
    world.edit_spec("AgentPlan", "p", paused=False)
    world.step()
    assert world.phase("t") == "Running"


def test_circuit_opens_after_consecutive_failures_then_a_trial_closes_it() -> None:
    world = World(
        plan(
            "p", maxConcurrent=1, circuitBreaker={"consecutiveFailures": 2, "cooldownSeconds": 30}
        ),
        task("f1", plan="p", maxRetries=0, priority="P0"),
        task("f2", plan="p", maxRetries=0, priority="P0"),
        task("good", plan="p", priority="P3"),
        max_concurrent=5,
    )
    world.step()
    world.finish_job("f1-1", ok=False)
    world.step()
    world.finish_job("f2-1", ok=False)
    world.step()
    circuit = world.get("AgentPlan", "p")["status"]["circuit"]
    assert circuit["state"] == "Open"
    assert world.running_jobs() == []
    assert ready_reason(world, "good") == "CircuitOpen"
    world.advance(31)
    world.step()
    assert world.get("AgentPlan", "p")["status"]["circuit"]["state"] == "HalfOpen"
    assert world.running_jobs() == ["good-1"]
    world.finish_job("good-1")
    world.step()
    assert world.get("AgentPlan", "p")["status"]["circuit"]["state"] == "Closed"
    assert any(e.reason == "CircuitOpen" and e.kind == "AgentPlan" for e in world.events)


def test_plan_status_counts_and_progress() -> None:
    world = World(plan("p"), task("a", plan="p"), task("b", plan="p", depends_on=["A"]))
    world.step()
    status = world.get("AgentPlan", "p")["status"]
    assert status["progress"] == "0/2"
    assert status["counts"]["running"] == 1 and status["counts"]["blocked"] == 1
    world.finish_job("a-1")
    world.step()
    world.finish_job("b-1")
    world.step()
    assert world.get("AgentPlan", "p")["status"]["progress"] == "2/2"


def test_a_settled_world_reaches_a_fixed_point_and_events_follow_transitions() -> None:
    world = World(task("a"), task("b", depends_on=["A"]))
    world.settle()
    reasons = [(e.name, e.reason) for e in world.events]
    assert ("a", "Running") in reasons and ("b", "Blocked") in reasons
    assert len(reasons) == 2


def test_finished_attempts_carry_the_reported_tokens_and_cost_for_metrics() -> None:
    world = World(task("a"), task("b"))
    world.step()
    report = '{"status": "succeeded", "summary": "ok", "inputTokens": 1200, "outputTokens": 300, "costUSD": 0.0081}'
    world.finish_job("a-1", message=report)
    world.finish_job("b-1", message=None)
    decision = world.step()
    by_outcome = {f.input_tokens: f for f in decision.finished}
    assert set(by_outcome) == {1200, 0}
    assert by_outcome[1200].output_tokens == 300
    assert by_outcome[1200].cost_usd == 0.0081
    assert by_outcome[0].cost_usd == 0.0
