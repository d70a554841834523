"""Two worker processes share one study kept in a real PostgreSQL database (Optuna's RDB storage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fti.backends.kinds import create_backend
from fti.training import space
from fti.training.tuning import StudyStorage, TrialHooks, TuningSpec, tune

pytestmark = pytest.mark.integration


def _quadratic(params: dict[str, Any], hooks: TrialHooks) -> float:
    return (params["x"] - 1.0) ** 2


def test_two_workers_share_a_study_in_postgresql(postgres_url: str, tmp_path: Path) -> None:
    spec = TuningSpec({"x": space.uniform(-3.0, 3.0)}, metric="loss", n_trials=8, n_workers=2, sampler="random")
    executor = create_backend("executor", "local", {"max_workers": 2})
    executor.open()
    try:
        result = tune(_quadratic, spec, storage=StudyStorage(folder=tmp_path, url=postgres_url), executor=executor)
    finally:
        executor.close()

    assert sorted(result.trials["number"]) == list(range(8))
    assert set(result.trials["state"]) == {"COMPLETE"}
    assert not (tmp_path / "study.journal").exists()
