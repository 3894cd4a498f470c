"""Fixtures for the chart checks: the helm and promtool binaries built by
hack/build-tools.sh.

Nothing is faked: `helm lint` and `helm template` run the real helm on the real
chart, and `promtool test rules` the real Prometheus rule engine on the rules it renders.
These checks need no cluster (the install test lives in tests/e2e).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "agent-orchestrator"


@pytest.fixture(scope="session")
def tools() -> Path:
    """The folder of the tools' links; builds what is missing first (once per version)."""
    built = subprocess.run(
        [str(REPO / "hack" / "build-tools.sh")], capture_output=True, text=True, timeout=3600
    )
    if built.returncode != 0:
        pytest.fail(f"hack/build-tools.sh failed:\n{built.stderr[-3000:]}", pytrace=False)
    return Path(built.stdout.strip())


@pytest.fixture(scope="session")
def helm(tools: Path) -> Path:
    return tools / "helm"


@pytest.fixture(scope="session")
def promtool(tools: Path) -> Path:
    return tools / "promtool"
