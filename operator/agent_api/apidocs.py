"""Writes the API reference (docs/api-reference.md) from the CRD schemas.

    python -m agent_api.apidocs > docs/api-reference.md

It reads the same structural schemas that `agent_api.crdgen` writes to crds/, so the
reference, the CRDs and the models cannot drift apart; `make verify` checks it is fresh.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from agent_api import crdgen, models

CONSTRAINTS = (
    ("minimum", ">= {}"),
    ("maximum", "<= {}"),
    ("minLength", "length >= {}"),
    ("maxLength", "length <= {}"),
    ("maxItems", "at most {} items"),
    ("pattern", "matches `{}`"),
)


def _type_of(node: dict[str, Any]) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = str(node.get("type", "object"))
    if kind == "array":
        return f"[]{_type_of(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map[string]{_type_of(node['additionalProperties'])}"
    return kind


def _notes(node: dict[str, Any], required: bool) -> str:
    notes = []
    if required:
        notes.append("**required**")
    if "enum" in node:
        notes.append("one of " + ", ".join(f"`{v}`" for v in node["enum"]))
    if "default" in node and node["default"] not in ({}, ""):
        notes.append(f"default `{json.dumps(node['default'])}`")
    for key, text in CONSTRAINTS:
        if key in node:
            notes.append(text.format(node[key]))
    for rule in node.get("x-kubernetes-validations", []):
        notes.append(f"rule: {rule['message']}")
    return "; ".join(notes)


def _rows(node: dict[str, Any], prefix: str) -> list[str]:
    rows = []
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}"
        description = " ".join(str(child.get("description", "")).split())
        rows.append(
            f"| `{path}` | {_type_of(child)} | {description} | {_notes(child, name in required)} |"
        )
        target = child.get("items", child) if child.get("type") == "array" else child
        if "properties" in target:
            rows += _rows(target, f"{path}[]" if target is not child else path)
    return rows


def render() -> str:
    lines = [
        "# API reference: `orchestration.coditect.ai/v1alpha1`",
        "",
        "Generated from `operator/agent_api/models.py` by `make generate`; do not edit.",
        "Every field below is also shown by `kubectl explain <kind>.<field>`.",
        "",
    ]
    for kind in models.KINDS:
        schema = crdgen.openapi_schema(kind)
        lines += [
            f"## {kind.kind_name}",
            "",
            " ".join(str(schema.get("description", "")).split()),
            "",
            f"Plural `{kind.plural}`"
            + (f", short name `{', '.join(kind.short_names)}`" if kind.short_names else "")
            + f", category `{crdgen.CATEGORY}`. Printer columns: "
            + ", ".join(c["name"] for c in kind.printer_columns)
            + ".",
            "",
        ]
        for part in ("spec", "status"):
            node = schema["properties"][part]
            if not node.get("properties"):
                continue
            rule_notes = [r["message"] for r in node.get("x-kubernetes-validations", [])]
            lines += [f"### {kind.kind_name} `{part}`", ""]
            if rule_notes:
                lines += [f"Rule: {msg}." for msg in rule_notes] + [""]
            lines += ["| field | type | description | constraints |", "|---|---|---|---|"]
            lines += _rows(node, part)
            lines.append("")
    return "\n".join(lines)


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
