"""API limits read from the models' Field metadata, so that no component copies a number."""

from __future__ import annotations

import annotated_types
import pydantic


def max_length(model: type[pydantic.BaseModel], field: str) -> int:
    """The `max_length` of `model.field` (a string or list); LookupError when it has none."""
    for constraint in model.model_fields[field].metadata:
        if isinstance(constraint, annotated_types.MaxLen):
            return int(constraint.max_length)
    raise LookupError(f"{model.__name__}.{field} has no max_length")
