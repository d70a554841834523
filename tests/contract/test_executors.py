"""The executor contract on local processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fti.backends.kinds import create_backend
from fti.backends.ports import Executor
from fti.testing.executor import ExecutorContract


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    backend = create_backend("executor", "local", {"max_workers": 2})
    backend.open()
    yield backend
    backend.close()


class TestExecutors(ExecutorContract):
    pass
