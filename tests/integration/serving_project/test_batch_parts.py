"""Batch predictions scored in parts on the executor write what one process writes, as one commit."""

from __future__ import annotations

import functools
import re
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
from tests.integration.serving_project.conftest import FEATURES, build_project, card_frames
from tests.integration.serving_project.scoring_models import refuse_large_batches


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serving project, plus a view of one group inserted in four commits (read without a join)."""
    path = tmp_path_factory.mktemp("batch_parts")
    build_project(path)
    cards, _ = card_frames()
    with fti.connect(path) as project:
        single = project.create_feature_group("card_copy", primary_key=["cc_num"], event_time="ts")
        for rows in range(0, len(cards), 60):
            single.insert(cards.iloc[rows : rows + 60])
        project.create_feature_view("card_copy", query=single.select(FEATURES))
    return path


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
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


@pytest.mark.parametrize(("view", "through"), [("fraud", "a join, parts by key"), ("card_copy", "parts by row group")])
def test_parts_write_what_one_process_writes(
    project: fti.Project, folder: Path, executor: Executor, view: str, through: str
) -> None:
    options = {"feature_view": view, "show_progress": False, "chunk_rows": 50}
    here = batch_predict(project.features, project.registry, "fraud:1", output=f"{view}_here", **options)
    parts = batch_predict(
        project.features,
        project.registry,
        "fraud:1",
        output=f"{view}_parts",
        parallelism=_in_parts(folder, executor),
        **options,
    )

    assert (parts.rows, parts.commit) == (here.rows, 0), through
    pd.testing.assert_frame_equal(_written(project, f"{view}_parts"), _written(project, f"{view}_here"))


def test_a_spine_is_scored_in_parts(project: fti.Project, folder: Path, executor: Executor) -> None:
    _, labels = card_frames()
    spine = labels.iloc[:31][["cc_num", "ts"]]
    options = {"spine": spine, "show_progress": False}
    batch_predict(project.features, project.registry, "fraud:2", output="spine_here", **options)
    parts = batch_predict(
        project.features,
        project.registry,
        "fraud:2",
        output="spine_parts",
        parallelism=_in_parts(folder, executor),
        **options,
    )

    assert parts.rows == 31
    pd.testing.assert_frame_equal(_written(project, "spine_parts"), _written(project, "spine_here"))


def test_a_failing_part_raises_its_error_and_writes_nothing(
    project: fti.Project, folder: Path, executor: Executor
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
            parallelism=_in_parts(folder, executor),
        )
    assert any(re.fullmatch(r"part \d of 4 of the batch prediction", note) for note in raised.value.__notes__)
    with pytest.raises(NotFoundError):
        project.get_feature_group("never_written")


def test_small_inputs_are_scored_here(project: fti.Project, folder: Path) -> None:
    def no_executor() -> Executor:
        raise AssertionError("below the threshold nothing starts the executor")

    parallel = Parallelism(no_executor, functools.partial(fti.connect, folder))  # the default threshold
    result = batch_predict(
        project.features, project.registry, "fraud:1", output="small", show_progress=False, parallelism=parallel
    )
    assert result.rows == len(card_frames()[1])


def test_an_executor_with_too_few_workers_is_not_used(project: fti.Project, folder: Path, executor: Executor) -> None:
    parallel = Parallelism(lambda: executor, functools.partial(fti.connect, folder), min_rows=0, min_workers=4)
    result = batch_predict(
        project.features, project.registry, "fraud:1", output="two_workers", show_progress=False, parallelism=parallel
    )
    assert result.rows == len(card_frames()[1]) and executor.workers == 2
