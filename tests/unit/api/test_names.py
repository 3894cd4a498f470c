"""Names and labels shared by the components."""

from __future__ import annotations

import pytest
from agent_api import models, names


def test_an_attempt_is_read_from_its_labels() -> None:
    labels = {models.LABEL_TASK: "plan-t001-001", models.LABEL_ATTEMPT: "3"}
    assert names.attempt_of(labels) == ("plan-t001-001", 3)


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {models.LABEL_TASK: "t"},
        {models.LABEL_TASK: "t", models.LABEL_ATTEMPT: "x"},
        {models.LABEL_TASK: "t", models.LABEL_ATTEMPT: "0"},
        {models.LABEL_TASK: "", models.LABEL_ATTEMPT: "1"},
    ],
)
def test_other_objects_are_not_attempts(labels: dict[str, str]) -> None:
    assert names.attempt_of(labels) is None


def test_long_label_values_are_cut_and_told_apart() -> None:
    first, second = names.label_value("a" * 80 + "1"), names.label_value("a" * 80 + "2")
    assert len(first) <= names.MAX_NAME and first != second
