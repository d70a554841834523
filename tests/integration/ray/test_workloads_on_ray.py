"""Batch predictions and tuning on the Ray cluster give what the local executor gives."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import fti
from fti.backends.kinds import create_backend
from fti.backends.ports import Executor
from fti.errors import NotFoundError
from fti.inference.batch import Parallelism, batch_predict
from fti.training import space
from tests.integration.ray.recording import RecordingExecutor
from tests.integration.serving_project.conftest import FEATURES, build_project, card_frames
from tests.integration.serving_project.scoring_models import refuse_large_batches
from tests.integration.training_pipeline.datasets import write_training_data

pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray_batch")
    build_project(path)
    return path


@pytest.fixture(scope="module")
def local_executor() -> Iterator[Executor]:
    opened = create_backend("executor", "local", {"max_workers": 2})
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def project(folder: Path) -> Iterator[fti.Project]:
    with fti.connect(folder) as opened:
        yield opened


def _in_parts(folder: Path, executor: Executor) -> Parallelism:
    return Parallelism(lambda: executor, functools.partial(fti.connect, folder), min_rows=0, min_workers=2)


def _written(project: fti.Project, group: str) -> pd.DataFrame:
    return project.get_feature_group(group).read().sort_values(["ts", "cc_num"]).reset_index(drop=True)


def test_batch_predictions_on_ray_equal_the_local_executors(
    project: fti.Project, folder: Path, local_executor: Executor, ray_executor: Executor
) -> None:
    options = {"feature_view": "fraud", "show_progress": False, "chunk_rows": 50}
    local = batch_predict(
        project.features,
        project.registry,
        "fraud:1",
        output="local",
        parallelism=_in_parts(folder, local_executor),
        **options,
    )
    on_ray = batch_predict(
        project.features,
        project.registry,
        "fraud:1",
        output="on_ray",
        parallelism=_in_parts(folder, ray_executor),
        **options,
    )

    assert (on_ray.rows, on_ray.commit) == (local.rows, 0)
    pd.testing.assert_frame_equal(_written(project, "on_ray"), _written(project, "local"))


def test_batch_predictions_score_in_parts_on_two_ray_workers(
    project: fti.Project, folder: Path, ray_executor: Executor
) -> None:
    recording = RecordingExecutor(ray_executor)  # 2 workers: fewer than a local executor needs for parts
    parts = Parallelism(lambda: recording, functools.partial(fti.connect, folder), min_rows=0)
    options = {"feature_view": "fraud", "show_progress": False}
    here = batch_predict(project.features, project.registry, "fraud:1", output="here", **options)
    on_ray = batch_predict(
        project.features, project.registry, "fraud:1", output="ray_parts", parallelism=parts, **options
    )

    assert recording.mapped == [("score_part", 1)] * 4  # 2 parts per worker, each a task of its own
    assert on_ray.rows == here.rows
    pd.testing.assert_frame_equal(_written(project, "ray_parts"), _written(project, "here"))


def test_a_part_failing_on_a_ray_worker_names_the_part_and_writes_nothing(
    project: fti.Project, folder: Path, ray_executor: Executor
) -> None:
    cards, labels = card_frames()
    model = make_pipeline(FunctionTransformer(refuse_large_batches), LogisticRegression())
    with project.start_run("fragile") as run:
        run.log_model(model.fit(cards[FEATURES].iloc[:50], labels["is_fraud"].iloc[:50]), "fragile")

    with pytest.raises(ValueError, match=r"this model scores at most 50 rows at once, got \d+") as raised:
        batch_predict(
            project.features,
            project.registry,
            "fragile",
            output="never_written",
            feature_view="fraud",
            show_progress=False,
            parallelism=_in_parts(folder, ray_executor),
        )
    assert any("on the Ray cluster" in note for note in raised.value.__notes__)
    with pytest.raises(NotFoundError):
        project.get_feature_group("never_written")


def _trials(project: fti.Project, parent_id: str) -> pd.DataFrame:
    runs = project.runs()
    trials: pd.DataFrame = runs[runs["parent_run_id"] == parent_id]
    return trials


def test_tuning_on_ray_tracks_every_trial_and_scores_as_local_workers_do(
    tmp_path: Path, ray_cluster_address: str
) -> None:
    grid = {"C": space.choice([0.01, 0.1, 1.0, 10.0])}
    with fti.connect(tmp_path / "local") as project:
        tuned = project.tune(
            write_training_data(project, "wine"), "logistic_regression", grid, sampler="grid", n_trials=None
        )
        metric = f"metrics.{tuned.result.metric}"
        local = _trials(project, tuned.run_id).set_index("params.C")[metric]
    assert len(local) == 4

    overrides = {"executor.type": "ray", "executor.address": ray_cluster_address}
    with fti.connect(tmp_path / "ray", overrides=overrides) as project:
        wine = write_training_data(project, "wine")
        tuned = project.tune(wine, "logistic_regression", grid, sampler="random", n_trials=6, n_workers=2, seed=0)
        trials = _trials(project, tuned.run_id)

    assert tuned.result.n_complete == 6
    assert sorted(trials["tags.trial"].astype(int)) == list(range(6))  # none lost, none twice
    assert set(trials["status"]) == {"finished"}
    # every trial run on a Ray worker scored exactly what the same parameters score here
    assert trials[metric].tolist() == local.loc[trials["params.C"]].tolist()
