"""The tracking and registry services end to end on a real PostgreSQL catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fti
from fti.core.tracking import RunStatus
from fti.errors import ConflictError

pytestmark = pytest.mark.integration


class Scale:
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["x"] * 10).to_numpy()


@pytest.fixture
def pg_project(project_dir: Path, postgres_url: str) -> Iterator[fti.Project]:
    with fti.connect(project_dir, overrides={"catalog.url": postgres_url}) as opened:
        yield opened


def test_runs_search_and_registry_on_postgresql(pg_project: fti.Project) -> None:
    assert "postgresql" in pg_project.catalog.describe()
    for index in range(6):
        with pg_project.start_run("pg", name=f"r{index}") as run:
            run.log_params({"model": "xgb" if index % 2 else "rf", "depth": index})
            for step in range(50):
                run.log_metric("loss", 1.0 / (step + 1 + index))
            run.log_metric("f1", index / 10)
    frame = pg_project.runs("pg", filter="metrics.f1 >= 0.2 and params.model = 'xgb'", order_by=["-metrics.f1"])
    assert frame["name"].tolist() == ["r5", "r3"]
    assert len(pg_project.get_run(frame["run_id"].iloc[0]).metric_history("loss")) == 50

    with pytest.raises(ValueError, match="boom"), pg_project.start_run("pg", name="bad") as failed:
        failed.log_metric("loss", 1.0)
        raise ValueError("boom")
    assert failed.info.status is RunStatus.FAILED
    assert failed.metrics == {"loss": 1.0}

    with pg_project.start_run("pg") as run:
        first = run.log_model(Scale(), "scale", input_example=pd.DataFrame({"x": [1.0]}))
        second = run.log_model(Scale(), "scale", input_example=pd.DataFrame({"x": [1.0]}))
    first.set_alias("champion", protected=True)
    with pytest.raises(ConflictError):
        second.set_alias("champion")
    second.set_alias("champion", force=True, reason="better")
    champion = pg_project.get_model("scale@champion")
    assert champion.version == 2
    assert champion.predict(pd.DataFrame({"x": [2.0]})).tolist() == [20.0]
    assert [move.to_version for move in champion.alias_history("champion")] == [1, 2]
