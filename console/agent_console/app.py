"""The dashboard's web application: the REST API under /api/v1, the live stream, the page.

Every document comes from the cache's latest model and is encoded once per model
version (a request for the same document at the same version is a dictionary lookup);
the plan list and the plans are encoded by the cache before it serves a version, so no
request waits for them. Only a task's log tail is read from the API server at request
time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, Protocol

from agent_runner import redact
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from agent_console import schemas, views

log = logging.getLogger(__name__)
API = "/api/v1"
LOG_LINES = 200
STATIC = resources.files("agent_console") / "static"


class ModelSource(Protocol):
    """What the app reads: the cache (or, in tests, anything that holds a model)."""

    def model(self) -> views.Model: ...

    def listen(self, callback: Callable[[int], None]) -> None: ...


class LogSource(Protocol):
    """Reads the tail of a container's log (the one request-time API call)."""

    def pod_log(
        self, namespace: str, pod: str, *, container: str, tail_lines: int, timeout: float = 5.0
    ) -> str: ...


class _Broadcast:
    """Wakes every open stream when the model's version changes."""

    def __init__(self) -> None:
        self.version = 0
        self._condition: asyncio.Condition | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._condition = asyncio.Condition()

    def publish_threadsafe(self, version: int) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._publish(version)))

    async def _publish(self, version: int) -> None:
        assert self._condition is not None
        async with self._condition:
            self.version = max(self.version, version)
            self._condition.notify_all()

    async def wait_beyond(self, version: int, timeout: float) -> int:
        assert self._condition is not None
        async with self._condition:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._condition.wait_for(lambda: self.version > version), timeout
                )
            return self.version


def _json(document: Any, status: int = 200) -> Response:
    return Response(
        content=json.dumps(document, separators=(",", ":"), ensure_ascii=False),
        media_type="application/json",
        status_code=status,
    )


def _not_found(detail: str) -> Response:
    return _json({"detail": detail}, 404)


def create_app(source: ModelSource, logs: LogSource | None = None) -> FastAPI:
    """The application over a model source; `logs` reads pod logs (None: no logs)."""
    broadcast = _Broadcast()
    memo: dict[tuple[Any, ...], bytes] = {}
    memo_version = [-1]
    redactor = redact.Redactor()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        broadcast.start()
        source.listen(broadcast.publish_threadsafe)
        yield

    app = FastAPI(
        title="agent-dashboard",
        version="v1",
        summary="Read-only view of agent-orchestrator's plans, tasks, agents and queue.",
        description=(
            "Served from a watch-fed cache. Field names are those of the "
            "orchestration.coditect.ai/v1alpha1 CRDs. Why a task waits is the operator's own "
            "decision over the same cache. No Secret value is ever shown."
        ),
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # the interactive pages load scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )

    async def encoded(key: tuple[Any, ...]) -> Response | None:
        """The plan list and plan documents the cache encoded with its model (None: the
        source encodes none)."""
        view = getattr(source, "view", None)
        if view is None:
            return None
        current: Any = getattr(source, "current_view", lambda: None)()
        if current is None:
            current = await run_in_threadpool(view)  # the first one is computed
        documents = current[1]
        if key[0] == "plans":
            body = documents.plans(key[1])
        else:
            body = documents.plan(key[1], key[2])
            if body is None:
                return _not_found(f"plan {key[1]}/{key[2]} not found")
        return Response(content=body, media_type="application/json")

    async def preencoded(
        key: tuple[Any, ...], build: Callable[[views.Model], Any | None]
    ) -> Response:
        found = await encoded(key)
        return found if found is not None else await run_in_threadpool(cached, key, build)

    def cached(key: tuple[Any, ...], build: Callable[[views.Model], Any | None]) -> Response:
        model = source.model()
        if memo_version[0] != model.version:
            memo.clear()
            memo_version[0] = model.version
        body = memo.get(key)
        if body is None:
            document = build(model)
            if document is None:
                return _not_found(f"{key[0]} {'/'.join(str(k) for k in key[1:] if k)} not found")
            body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
            if len(memo) > 512:
                memo.clear()
            memo[key] = body
        return Response(content=body, media_type="application/json")

    not_found: dict[int | str, dict[str, Any]] = {404: {"model": schemas.Problem}}
    in_namespace = Query(None, description="Only this namespace.")
    in_plan = Query(None, description="Only this plan (`-`: tasks without a plan).")

    @app.get(f"{API}/info", response_model=schemas.Info, tags=["dashboard"])
    def get_info() -> Response:
        """What the dashboard watches, and whether its cache has synced."""
        return cached(("info",), views.info)

    @app.get(f"{API}/plans", response_model=schemas.PlanList, tags=["plans"])
    async def list_plans(namespace: str | None = in_namespace) -> Response:
        """Every plan: progress, counts by phase, circuit, tokens and cost, rate and ETA."""
        return await preencoded(("plans", namespace), lambda m: views.plans(m, namespace))

    @app.get(
        f"{API}/namespaces/{{namespace}}/plans/{{name}}",
        response_model=schemas.PlanDetail,
        responses=not_found,
        tags=["plans"],
    )
    async def get_plan(namespace: str, name: str) -> Response:
        """One plan and its tasks (`-`: the namespace's tasks without a plan)."""
        return await preencoded(
            ("plan", namespace, name), lambda m: views.plan(m, namespace, name)
        )

    @app.get(
        f"{API}/namespaces/{{namespace}}/tasks/{{name}}",
        response_model=schemas.TaskDetail,
        responses=not_found,
        tags=["tasks"],
    )
    def get_task(
        namespace: str,
        name: str,
        log_tail: bool = Query(True, alias="log", description="Include the pod log's tail."),
        plan: str | None = Query(None, description="With a task ID as name: its plan."),
    ) -> Response:
        """One task (by object name or task ID): spec, conditions, attempts, result,
        Events and the redacted tail of the current or last attempt's pod log."""
        model = source.model()
        key = views.find_task(model, namespace, name, plan)
        if key is None:
            return _not_found(f"task {namespace}/{name} not found")
        tail = read_log(model, key) if log_tail else None
        return _json(views.task(model, key, tail))

    def read_log(model: views.Model, key: views.Key) -> dict[str, Any]:
        record, pod = views.attempt_pod(model, key)
        document: dict[str, Any] = {
            "attempt": record.number if record else None,
            "job": record.job if record else None,
            "pod": pod.name if pod else None,
            "container": "agent",
            "lines": [],
            "error": None,
        }
        if record is None:
            document["error"] = "no attempt yet"
        elif pod is None:
            document["error"] = f"the pod of Job {record.job} no longer exists"
        elif logs is None:
            document["error"] = "logs are not available"
        else:
            try:
                text = logs.pod_log(
                    pod.namespace, pod.name, container="agent", tail_lines=LOG_LINES
                )
                document["lines"] = [redactor(line) for line in text.splitlines()]
            except Exception as error:
                from agent_console import kube

                document["error"] = kube.describe(error, f"reading the log of pod {pod.name}")
        return document

    @app.get(f"{API}/agents", response_model=schemas.AgentList, tags=["agents"])
    def list_agents(namespace: str | None = in_namespace, plan: str | None = in_plan) -> Response:
        """Running attempts (task, profile, pod, age), and how many per profile."""
        return cached(("agents", namespace, plan), lambda m: views.agents(m, namespace, plan))

    @app.get(f"{API}/recent", response_model=schemas.CompletionList, tags=["agents"])
    def list_recent(
        limit: int = Query(20, ge=0, le=1000, description="At most this many, newest first."),
        namespace: str | None = in_namespace,
        plan: str | None = in_plan,
    ) -> Response:
        """Finished attempts, newest first."""
        return cached(
            ("recent", limit, namespace, plan), lambda m: views.recent(m, limit, namespace, plan)
        )

    @app.get(f"{API}/queue", response_model=schemas.Queue, tags=["queue"])
    def get_queue(namespace: str | None = in_namespace, plan: str | None = in_plan) -> Response:
        """Ready tasks in the order the operator starts them; every waiting task and why."""
        return cached(("queue", namespace, plan), lambda m: views.queue(m, namespace, plan))

    @app.get(
        f"{API}/stream",
        tags=["dashboard"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(request: Request) -> StreamingResponse:
        """Server-Sent Events: `event: change` with `{"version": N}` after every change
        of the view (and a comment every 15 s to keep proxies from closing it)."""

        async def events() -> AsyncIterator[str]:
            seen = source.model().version
            yield f"retry: 1000\nevent: change\ndata: {json.dumps({'version': seen})}\n\n"
            while not await request.is_disconnected():
                current = await broadcast.wait_beyond(seen, 15.0)
                if current > seen:
                    seen = current
                    yield f"event: change\ndata: {json.dumps({'version': seen})}\n\n"
                else:
                    yield ": keep-alive\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return _json({"ok": True})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        model = source.model()
        return _json({"synced": model.synced}, 200 if model.synced else 503)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        page = STATIC / "index.html"
        if not (STATIC / "vendor" / "vue.global.prod.js").is_file():
            return JSONResponse(
                {
                    "detail": "the page's JavaScript is not built: run `make web` "
                    "(npm ci from console/web/package-lock.json); the API works without it"
                },
                status_code=503,
            )
        return FileResponse(str(page), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app
