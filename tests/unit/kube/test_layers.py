"""The shared packages' import rules: agent_api is pure (no kopf, kubernetes or anthropic),
agent_kube is the client layer (kubernetes and agent_api, never a program's package)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

OPERATOR = Path(__file__).resolve().parents[3] / "operator"
FORBIDDEN = {
    "agent_api": {"kopf", "kubernetes", "anthropic", "agent_kube", "agent_operator",
                  "agent_sync", "agent_runner"},
    "agent_kube": {"kopf", "anthropic", "agent_operator", "agent_sync", "agent_runner"},
}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_shared_packages_import_only_what_their_layer_allows(package: str) -> None:
    for path in sorted((OPERATOR / package).glob("*.py")):
        wrong = imported(path) & FORBIDDEN[package]
        assert not wrong, f"{path.name} imports {sorted(wrong)}"
