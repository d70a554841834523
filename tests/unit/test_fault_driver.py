"""The fault-injection driver (``tests.faults.kill_at``): an operation killed at its stage passes; one that ends
without reaching it, or fails, is an error that shows its output; each child starts as a fresh process would."""

from __future__ import annotations

import os
import re

import pytest

import fti.faults
from fti.faults import kill_point
from tests.faults import kill_at


def reach(stage: str) -> None:
    """Print, then pass the kill point ``stage``."""
    print("before the kill point", flush=True)
    kill_point(stage)


def fail(message: str) -> None:
    """Raise before any kill point."""
    raise ValueError(message)


def check_fresh(variable: str) -> None:
    """Die at the kill point only if this child sees the caller's environment and no state of an earlier one."""
    assert os.environ[variable] == "from the test", os.environ.get(variable)
    assert not hasattr(fti.faults, "touched"), "an earlier child's state leaked"
    fti.faults.touched = True  # type: ignore[attr-defined]
    kill_point("alias.before_commit")


def test_an_operation_killed_at_its_stage_passes() -> None:
    kill_at("alias.before_commit", reach, "alias.before_commit")


def test_an_operation_that_ends_without_reaching_its_stage_fails_with_its_output() -> None:
    expected = r"reach ended with status 0 instead of being killed at alias.before_commit"
    with pytest.raises(AssertionError, match=expected):
        kill_at("alias.before_commit", reach, "deployment.before_commit")
    with pytest.raises(AssertionError, match=re.escape("ValueError: broken")) as raised:
        kill_at("alias.before_commit", fail, "broken")
    assert "ended with status 1" in str(raised.value)


def test_each_child_has_the_callers_environment_and_a_fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULT_DRIVER_CHECK", "from the test")
    for _ in range(2):
        kill_at("alias.before_commit", check_fresh, "FAULT_DRIVER_CHECK")


def test_an_unknown_stage_is_refused() -> None:
    with pytest.raises(AssertionError, match="'no.such_stage' is no kill point"):
        kill_at("no.such_stage", reach, "no.such_stage")
