"""Reading test runners' summary lines: the only evidence testsPassed is made from."""

from __future__ import annotations

import pytest
from agent_runner import testruns

PYTEST_PASSED = """\
..                                                                       [100%]
2 passed in 0.01s
"""
PYTEST_FAILED = """\
F.                                                                       [100%]
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________
E       assert -1 == 5
=========================== short test summary info ============================
FAILED test_calc.py::test_add - assert -1 == 5
========================= 1 failed, 1 passed in 0.03s ==========================
"""
PYTEST_COLLECTION_ERROR = """\
ERROR test_x.py - ModuleNotFoundError: No module named 'calc'
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.12s
"""
PYTEST_SLOW_WITH_WARNINGS = (
    "\x1b[32m============ 120 passed, 3 skipped, 2 warnings in 75.20s (0:01:15) ============\x1b[0m"
)
UNITTEST_OK = """\
...
----------------------------------------------------------------------
Ran 3 tests in 0.001s

OK (skipped=1)
"""
UNITTEST_FAILED = """\
F
======================================================================
FAIL: test_no (test_fail.T.test_no)
----------------------------------------------------------------------
Ran 1 test in 0.000s

FAILED (failures=1)
"""
GO_OK = "ok  \texample.com/app/api\t0.012s\nok  \texample.com/app/db\t(cached)\n"
GO_FAIL = """\
--- FAIL: TestAdd (0.00s)
    calc_test.go:8: got -1
FAIL
FAIL\texample.com/app/calc\t0.003s
ok  \texample.com/app/api\t0.012s
FAIL
"""
JEST_FAILED = """\
Test Suites: 1 failed, 1 passed, 2 total
Tests:       1 failed, 4 passed, 5 total
Snapshots:   0 total
"""
JEST_PASSED = "Test Suites: 2 passed, 2 total\nTests:       5 passed, 5 total\n"
VITEST_PASSED = " Test Files  2 passed (2)\n      Tests  7 passed (7)\n   Start at  10:00:00\n"
VITEST_FAILED = " Test Files  1 failed | 1 passed (2)\n      Tests  1 failed | 6 passed (7)\n"
CARGO_OK = "running 3 tests\n...\ntest result: ok. 3 passed; 0 failed; 0 ignored; 0 measured\n"
CARGO_FAILED = "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n"


@pytest.mark.parametrize(
    ("output", "exit_code", "expected"),
    [
        (PYTEST_PASSED, 0, True),
        (PYTEST_FAILED, 1, False),
        (PYTEST_COLLECTION_ERROR, 2, False),
        (PYTEST_SLOW_WITH_WARNINGS, 0, True),
        ("no tests ran in 0.01s\n", 5, None),
        (UNITTEST_OK, 0, True),
        (UNITTEST_FAILED, 1, False),
        ("Ran 0 tests in 0.000s\n\nNO TESTS RAN\n", 5, None),
        (GO_OK, 0, True),
        (GO_FAIL, 1, False),
        (JEST_PASSED, 0, True),
        (JEST_FAILED, 1, False),
        (VITEST_PASSED, 0, True),
        (VITEST_FAILED, 1, False),
        (CARGO_OK, 0, True),
        (CARGO_FAILED, 101, False),
    ],
)
def test_each_runners_summary_is_read(output: str, exit_code: int, expected: bool | None) -> None:
    assert testruns.verdict(output, exit_code) is expected


@pytest.mark.parametrize(
    "output",
    [
        "pytest\n",  # echo pytest
        "",
        "All checks passed!\n",  # ruff
        "OK\n",  # an OK without unittest's "Ran N tests" before it
        "Success: no issues found in 27 source files\n",  # mypy
        "test_calc.py::test_add PASSED [100%]\n",
    ],
)
def test_output_without_a_test_summary_says_nothing(output: str) -> None:
    assert testruns.verdict(output, 0) is None


def test_a_clean_summary_from_a_failing_command_is_a_failure() -> None:
    assert testruns.verdict(PYTEST_PASSED, 1) is False  # e.g. `pytest && false`
    assert testruns.verdict(PYTEST_PASSED, None) is False  # killed at the timeout
