"""agent-dashboard's page in a real headless Chromium (Debian's `chromium`, driven by
Playwright with the system browser: no browser download), over a dashboard process
watching the local control plane. Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO, kubectl
from tests.integration.console_fixtures import ARTIFACTS, apply, dag, ns, plan, processes

pytestmark = pytest.mark.integration
__all__ = ["ns", "processes"]  # fixtures, used by name
CHROMIUM = os.environ.get("AO_CHROMIUM", "/usr/bin/chromium")
VENDOR = REPO / "console" / "agent_console" / "static" / "vendor" / "vue.global.prod.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium (make test installs it as root)")
    if not VENDOR.exists():
        pytest.skip("the page's JavaScript is not built: make web (needs npm)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        found = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield found
        found.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def set_status(ns: str, name: str, status: dict[str, Any]) -> None:
    kubectl("-n", ns, "patch", "agenttask", name, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}))


def ago(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


STAMP, DONE = ago(300), ago(240)


def test_plan_page_graph_updates_live_and_task_page_shows_attempts(
    ns: str, processes: Any, browser: Any
) -> None:
    apply(plan(ns, "web"), *dag(ns, "web", levels=3, width=4))
    dashboard = processes["dashboard"](ns)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{dashboard.url}/#/plan/{ns}/web")
    page.wait_for_selector("#graph g.node")
    page.wait_for_function("document.querySelectorAll('#graph g.node').length === 12")
    node = page.locator('#graph g.node[data-task-id="T001.001"]')
    before = node.locator("rect").get_attribute("fill")

    set_status(ns, "web-t001-001", {
        "phase": "Succeeded", "attempts": 1, "agentProfile": "general-purpose",
        "startTime": STAMP, "completionTime": DONE,
        "history": [{"number": 1, "job": "web-t001-001-1", "startTime": STAMP,
                     "completionTime": DONE, "outcome": "Succeeded"}],
        "result": {"summary": "built the thing", "costUSD": 0.12, "inputTokens": 1200,
                   "outputTokens": 300, "branch": "agent/T001.001", "commit": "0a1b2c3"},
    })
    changed = time.monotonic()
    page.wait_for_function(
        "document.querySelector('#graph g.node[data-task-id=\"T001.001\"]')"
        ".dataset.phase === 'Succeeded'", timeout=2000,
    )
    elapsed = time.monotonic() - changed
    assert elapsed < 2.0
    assert node.locator("rect").get_attribute("fill") != before
    # the page was not reloaded: the same document, updated in place
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    # more of a plan's life, for the screenshot: one running, one failed, one done
    set_status(ns, "web-t001-002", {
        "phase": "Running", "attempts": 1, "agentProfile": "devops-engineer",
        "currentJob": "web-t001-002-1", "startTime": ago(100),
        "history": [{"number": 1, "job": "web-t001-002-1", "startTime": ago(100),
                     "outcome": "Running"}],
    })
    set_status(ns, "web-t001-003", {
        "phase": "Failed", "attempts": 2, "failedAttempts": 2, "agentProfile": "qa-engineer",
        "startTime": ago(280), "completionTime": ago(60),
        "message": "attempt 2 failed (MaxTurns); all 1 retries used",
        "history": [
            {"number": 1, "job": "web-t001-003-1", "startTime": ago(280),
             "completionTime": ago(200), "outcome": "Failed", "reason": "RateLimited"},
            {"number": 2, "job": "web-t001-003-2", "startTime": ago(150),
             "completionTime": ago(60), "outcome": "Failed", "reason": "MaxTurns"}],
    })
    set_status(ns, "web-t001-004", {
        "phase": "Succeeded", "attempts": 1, "agentProfile": "general-purpose",
        "startTime": ago(200), "completionTime": ago(30),
        "history": [{"number": 1, "job": "web-t001-004-1", "startTime": ago(200),
                     "completionTime": ago(30), "outcome": "Succeeded"}],
        "result": {"summary": "done", "costUSD": 0.31, "inputTokens": 5100,
                   "outputTokens": 900},
    })
    page.wait_for_function(
        "document.querySelector('#graph g.node[data-task-id=\"T001.003\"]')"
        ".dataset.phase === 'Failed'", timeout=2000,
    )
    page.locator('#graph g.node[data-task-id="T003.002"]').click()
    page.wait_for_selector("#selected")
    path = shot(page, "plan")
    if os.environ.get("AO_UPDATE_SCREENSHOT"):
        shutil.copy(path, REPO / "docs" / "images" / "dashboard-plan.png")

    page.goto(f"{dashboard.url}/#/task/{ns}/web-t001-001")
    page.wait_for_selector("#attempts tr.attempt")
    assert page.locator("#attempts tr.attempt").count() == 1
    assert "Succeeded" in page.locator("#attempts").inner_text()
    assert "built the thing" in page.inner_text("#task")
    shot(page, "task")
    page.goto(f"{dashboard.url}/#/")
    page.wait_for_selector("#plans tbody tr td a")
    assert "2/12" in page.inner_text("#plans")
    shot(page, "plans")
    page.close()
