"""Fixtures for the chart checks: the helm binary built by hack/build-tools.sh.

Nothing is faked: `helm lint` and `helm template` run the real helm on the real
chart. These checks need no cluster (the install test lives in tests/e2e).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "agent-orchestrator"


@pytest.fixture(scope="session")
def helm() -> Path:
    bin_dir = subprocess.run(
        [str(REPO / "hack" / "build-tools.sh")], check=True, capture_output=True, text=True,
        timeout=3600,
    ).stdout.strip()
    return Path(bin_dir) / "helm"
