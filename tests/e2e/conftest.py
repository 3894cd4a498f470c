"""End-to-end fixtures: the same real local control plane as the integration tests
(`cluster`, `api`, `namespace`), plus the helm binary built from Go modules."""

from __future__ import annotations

from tests.chart.conftest import helm, tools
from tests.integration.conftest import api, cluster, namespace

__all__ = ["api", "cluster", "helm", "namespace", "tools"]
