"""The dashboard's HTTP API over a fed cache (FastAPI's test client, no server)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from agent_console import app as web
from agent_console import schemas
from console_world import T0, fed, job, plan, pod, running, succeeded, task
from fastapi.testclient import TestClient

LATER = T0 + datetime.timedelta(seconds=30)


class FakeLogs:
    """Stands in for the API server's pod log endpoint."""

    def __init__(self, text: str = "", error: Exception | None = None) -> None:
        self.text = text
        self.error = error
        self.calls: list[tuple[str, str, str, int]] = []

    def pod_log(self, namespace: str, pod: str, *, container: str, tail_lines: int,
                timeout: float = 5.0) -> str:
        self.calls.append((namespace, pod, container, tail_lines))
        if self.error:
            raise self.error
        return self.text


@pytest.fixture
def feed() -> Any:
    return fed(
        plan(),
        task("a", "T001.001", status=succeeded(T0, 10, job="a-1")),
        task("b", "T001.002", depends_on=("T001.001",), status=running(T0, "b-1")),
        task("c", "T001.003", depends_on=("T001.002",)),
        job("b-1", "b"), pod("b-1-abc", "b-1", "b"),
        now=LATER,
    )


def client(feed: Any, logs: Any = None) -> TestClient:
    return TestClient(web.create_app(feed, logs))


def test_every_endpoint_answers_with_its_schema(feed: Any) -> None:
    logs = FakeLogs("step 1\nstep 2\n")
    with client(feed, logs) as http:
        for path, model in [
            ("/api/v1/info", schemas.Info),
            ("/api/v1/plans", schemas.PlanList),
            ("/api/v1/namespaces/team/plans/p", schemas.PlanDetail),
            ("/api/v1/namespaces/team/tasks/b", schemas.TaskDetail),
            ("/api/v1/agents", schemas.AgentList),
            ("/api/v1/recent?limit=5", schemas.CompletionList),
            ("/api/v1/queue", schemas.Queue),
        ]:
            answer = http.get(path)
            assert answer.status_code == 200, (path, answer.text)
            model.model_validate(answer.json())
        detail = http.get("/api/v1/namespaces/team/tasks/T001.002").json()
    assert detail["log"]["pod"] == "b-1-abc"
    assert detail["log"]["lines"] == ["step 1", "step 2"]
    assert logs.calls[0] == ("team", "b-1-abc", "agent", 200)


def test_unknown_objects_are_404_with_a_reason(feed: Any) -> None:
    with client(feed) as http:
        for path in ("/api/v1/namespaces/team/plans/nope", "/api/v1/namespaces/team/tasks/nope"):
            answer = http.get(path)
            assert answer.status_code == 404
            assert "not found" in answer.json()["detail"]


def test_the_log_tail_is_redacted_and_a_log_error_is_reported(feed: Any) -> None:
    secret = "sk-ant-api03-" + "x" * 40
    with client(feed, FakeLogs(f"calling with {secret}\nAuthorization: Bearer abc.def\n")) as http:
        lines = http.get("/api/v1/namespaces/team/tasks/b").json()["log"]["lines"]
    assert secret not in " ".join(lines)
    assert lines == ["calling with [REDACTED]", "Authorization: Bearer [REDACTED]"]
    with client(feed, FakeLogs(error=OSError("connection refused"))) as http:
        document = http.get("/api/v1/namespaces/team/tasks/b").json()["log"]
    assert document["lines"] == [] and "connection refused" in document["error"]
    with client(feed, FakeLogs()) as http:
        assert http.get("/api/v1/namespaces/team/tasks/b?log=false").json()["log"] is None


def test_documents_are_encoded_once_per_version(feed: Any) -> None:
    with client(feed) as http:
        first = http.get("/api/v1/plans").content
        assert http.get("/api/v1/plans").content == first
        feed.on_event("AgentTask", "ADDED", task("d", "T001.004"))
        feed.refresh()
        assert http.get("/api/v1/plans").json()["items"][0]["total"] == 4


def test_the_openapi_schema_is_published_with_crd_field_names(feed: Any) -> None:
    with client(feed) as http:
        spec = http.get("/api/v1/openapi.json").json()
    assert "/api/v1/namespaces/{namespace}/plans/{name}" in spec["paths"]
    plan_summary = spec["components"]["schemas"]["PlanSummary"]["properties"]
    assert {"costUSD", "tasksPerHour", "eta", "circuit"} <= set(plan_summary)
    assert "dependsOn" in spec["components"]["schemas"]["TaskRow"]["properties"]


def test_the_stream_announces_the_current_version(feed: Any) -> None:
    model = feed.refresh()
    with client(feed) as http, http.stream("GET", "/api/v1/stream") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in answer.iter_lines():
            lines.append(line)
            if line.startswith("data:"):
                break
    assert f'data: {{"version": {model.version}}}' in lines


def test_readiness_follows_the_first_lists(feed: Any) -> None:
    feed.expected_lists.add(("AgentTask", "elsewhere"))
    feed.refresh()
    with client(feed) as http:
        assert http.get("/readyz").status_code == 503
        assert http.get("/healthz").status_code == 200
