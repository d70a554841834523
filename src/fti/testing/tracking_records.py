"""The contract every catalog store passes for tracking and registry records.

Subclass :class:`TrackingRecordsContract` and provide a fixture ``catalog_store`` yielding an open
store on an empty database (the suite upgrades it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from fti.core.features import FeatureViewRecord
from fti.core.lineage import FeatureGroupCommit, TrainingDataLineage
from fti.core.registry import AliasMove, ColumnSpec, ModelAlias, ModelVersionRecord, Signature
from fti.core.tracking import (
    OWNER_TAG,
    And,
    CodeVersion,
    Comparison,
    MetricBatch,
    Or,
    OrderKey,
    RunInfo,
    RunSearch,
    RunStatus,
)
from fti.errors import ConflictError

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore

__all__ = ["TrackingRecordsContract"]

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LINEAGE = TrainingDataLineage("fraud", 1, 2, (FeatureGroupCommit("cards", 1, 7), FeatureGroupCommit("labels", 2, 3)))


def _run(run_id: str, *, experiment: str = "exp", minutes: int = 0, parent: str | None = None) -> RunInfo:
    return RunInfo(
        id=run_id,
        experiment=experiment,
        name=f"name-{run_id}",
        status=RunStatus.RUNNING,
        start_time=T0 + timedelta(minutes=minutes),
        parent_run_id=parent,
        code=CodeVersion("abc123", True, "train.py"),
        python_version="3.11.9",
        packages={"numpy": "2.0.0"},
    )


def _batch(points: list[tuple[str, str, float, int]]) -> MetricBatch:
    return MetricBatch(
        run_ids=[point[0] for point in points],
        keys=[point[1] for point in points],
        values=[point[2] for point in points],
        steps=[point[3] for point in points],
        timestamps_ms=[1_700_000_000_000 + index for index in range(len(points))],
    )


def _version(name: str, version: int, run_id: str | None) -> ModelVersionRecord:
    return ModelVersionRecord(
        name=name,
        version=version,
        flavor="sklearn",
        artifact_prefix=f"runs/{run_id}/models/{name}",
        created_at=T0,
        run_id=run_id,
        signature=Signature((ColumnSpec("a", "double"),), (ColumnSpec("prediction", "int64"),)),
        flavor_options={"class": "X"},
        metrics={"f1": 0.9},
        description="d",
        tags={"owner": "me"},
        training_dataset_name="fraud",
        training_dataset_version=2,
    )


def _move(alias: str, before: int | None, after: int | None, *, forced: bool = False) -> AliasMove:
    return AliasMove("m", alias, before, after, True, forced, "tester", T0, "because")


class TrackingRecordsContract:
    """Tracking and registry records behave the same on every catalog."""

    @pytest.fixture
    def store(self, catalog_store: CatalogStore) -> CatalogStore:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.tracking.ensure_experiment("exp", T0)
            tx.tracking.ensure_experiment("other", T0)
        return catalog_store

    def test_experiments_are_created_once(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            first = tx.tracking.ensure_experiment("exp", T0)
            assert tx.tracking.ensure_experiment("exp", T0 + timedelta(days=1)) == first
            assert [item.name for item in tx.tracking.list_experiments()] == ["exp", "other"]
            assert first.created_at == T0

    def test_an_experiment_without_runs_is_deleted(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            tx.tracking.delete_experiment("other")
            tx.tracking.delete_experiment("missing")  # nothing to delete is not an error
        with store.transaction() as tx:
            assert [item.name for item in tx.tracking.list_experiments()] == ["exp"]

    def test_a_training_dataset_version_a_run_names_is_not_given_again(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            view = tx.feature_views.add(FeatureViewRecord(0, "fraud", 1, "", {"parts": []}, ("y",), T0))
            other = tx.feature_views.add(FeatureViewRecord(0, "fraud", 2, "", {"parts": []}, ("y",), T0))
            tx.tracking.add_run(_run("r1"), LINEAGE)  # read fraud v1's dataset 2, deleted since
        with store.transaction() as tx:
            assert tx.training_datasets.next_version(view.id) == 3
            assert tx.training_datasets.next_version(other.id) == 1

    def test_run_ids_are_found_by_prefix_taken_literally(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            for run_id in ("ab12", "ab34", "a_99", "cd56"):
                tx.tracking.add_run(_run(run_id), None)
        with store.transaction() as tx:
            assert tx.tracking.run_ids_starting_with("ab", 10) == ["ab12", "ab34"]
            assert tx.tracking.run_ids_starting_with("ab", 1) == ["ab12"]
            assert tx.tracking.run_ids_starting_with("a_", 10) == ["a_99"]
            assert tx.tracking.run_ids_starting_with("%", 10) == []
            assert tx.tracking.run_ids_starting_with("zz", 10) == []

    def test_run_round_trip_with_training_data(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            tx.tracking.add_run(_run("r1"), LINEAGE)
            tx.tracking.add_run(_run("r2", parent="r1"), None)
        with store.transaction() as tx:
            assert tx.tracking.find_run("r1") == _run("r1")
            assert tx.tracking.find_run("missing") is None
            assert tx.tracking.find_training_data("r1") == LINEAGE
            assert tx.tracking.find_training_data("r2") is None
            assert tx.tracking.runs_for_training_data("fraud", 1, 2) == ["r1"]
            tx.tracking.end_run("r1", RunStatus.FAILED, T0 + timedelta(hours=1), "ValueError: x")
        with store.transaction() as tx:
            ended = tx.tracking.find_run("r1")
        assert ended is not None and ended.status is RunStatus.FAILED
        assert ended.end_time == T0 + timedelta(hours=1) and ended.error == "ValueError: x"

    def test_running_runs_owners_and_ending_only_a_running_run(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            for run_id in ("r1", "r2", "r3"):
                tx.tracking.add_run(_run(run_id), None)
                tx.tracking.set_tags(run_id, {OWNER_TAG: f"host {run_id[1]}", "team": "a"})
            tx.tracking.add_run(_run("r4"), None)  # recorded no owner
            tx.tracking.end_run("r3", RunStatus.FINISHED, T0, None)
        with store.transaction() as tx:
            assert tx.tracking.running_run_owners() == {"r1": "host 1", "r2": "host 2"}
            # the owner is no tag a run shows
            assert tx.tracking.tags(["r1", "r2"]).column("key").to_pylist() == ["team", "team"]
            assert tx.tracking.end_running_run("r1", RunStatus.FAILED, T0, "killed: x") is True
            assert tx.tracking.end_running_run("r3", RunStatus.FAILED, T0, "killed: x") is False
        with store.transaction() as tx:
            assert tx.tracking.running_run_owners() == {"r2": "host 2"}
            failed, finished = tx.tracking.find_run("r1"), tx.tracking.find_run("r3")
        assert failed is not None and (failed.status, failed.error) == (RunStatus.FAILED, "killed: x")
        assert finished is not None and (finished.status, finished.error) == (RunStatus.FINISHED, None)

    def test_params_conflict_tags_replace_and_artifacts(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            tx.tracking.add_run(_run("r1"), None)
            tx.tracking.log_params("r1", {"depth": "3", "model": "xgb"})
            tx.tracking.log_params("r1", {"depth": "3"})
            tx.tracking.set_tags("r1", {"team": "a"})
            tx.tracking.set_tags("r1", {"team": "b", "stage": "dev"})
            tx.tracking.set_artifacts("r1", {"b.txt": "runs/r1/artifacts/b.txt", "a.txt": "runs/r1/artifacts/a.txt"})
        with pytest.raises(ConflictError, match="already has param 'depth'"), store.transaction() as tx:
            tx.tracking.log_params("r1", {"depth": "4"})
        with store.transaction() as tx:
            params = tx.tracking.params(["r1"]).to_pylist()
            tags = tx.tracking.tags(["r1"]).to_pylist()
            assert sorted((row["key"], row["value"]) for row in params) == [("depth", "3"), ("model", "xgb")]
            assert sorted((row["key"], row["value"]) for row in tags) == [("stage", "dev"), ("team", "b")]
            assert list(tx.tracking.list_artifacts("r1")) == ["a.txt", "b.txt"]

    @pytest.mark.parametrize("count", [3, 150])  # few ids and many: both travel as one parameter
    def test_run_values_are_read_by_position_without_the_owner(self, store: CatalogStore, count: int) -> None:
        ids = [f"r{index:03d}" for index in range(count)]
        with store.transaction() as tx:
            for index, run_id in enumerate(ids):
                tx.tracking.add_run(_run(run_id), None)
                if index % 2 == 0:
                    tx.tracking.log_params(run_id, {"depth": str(index), "model": "xgb"})
                tx.tracking.set_tags(run_id, {OWNER_TAG: "host", **({"team": "a"} if index == 1 else {})})
            tx.tracking.log_metrics(
                _batch([(ids[-1], "loss", 3.0, 0), (ids[-1], "loss", 2.5, 1), (ids[0], "f1", 0.25, 0)])
            )
        asked = [ids[-1], "absent", *ids[:-1]]  # positions follow the order asked, not the catalog's
        with store.transaction() as tx:
            params, metrics, tags = tx.tracking.run_values(asked)
        assert sorted(params.to_pylist(), key=lambda row: (row["position"], row["key"])) == [
            {"position": asked.index(run_id), "key": key, "value": value}
            for run_id in sorted(ids[::2], key=asked.index)
            for key, value in (("depth", str(ids.index(run_id))), ("model", "xgb"))
        ]
        assert sorted(metrics.to_pylist(), key=lambda row: row["position"]) == [
            {"position": 0, "key": "loss", "value": 2.5},
            {"position": 2, "key": "f1", "value": 0.25},
        ]
        assert tags.to_pylist() == [{"position": asked.index(ids[1]), "key": "team", "value": "a"}]
        assert metrics.schema.field("value").type == "double" and params.schema.field("position").type == "int64"
        with store.transaction() as tx:
            assert [table.num_rows for table in tx.tracking.run_values([])] == [0, 0, 0]

    def test_metric_batches_keep_history_and_the_latest_step(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            tx.tracking.add_run(_run("r1"), None)
            tx.tracking.add_run(_run("r2"), None)
            tx.tracking.log_metrics(_batch([("r1", "loss", 3.0, 0), ("r1", "loss", 2.0, 1), ("r2", "loss", 9.0, 5)]))
            tx.tracking.log_metrics(_batch([("r1", "loss", 1.0, 2), ("r2", "loss", 8.0, 4), ("r1", "acc", 0.5, 0)]))
            tx.tracking.log_metrics(_batch([("r1", "loss", 0.5, 2)]))
        with store.transaction() as tx:
            history = tx.tracking.metric_history("r1", "loss").to_pydict()
            latest = tx.tracking.latest_metrics(["r1", "r2"]).to_pylist()
        assert history["step"] == [0, 1, 2, 2]
        assert history["value"] == [3.0, 2.0, 1.0, 0.5]
        assert sorted((row["run_id"], row["key"], row["value"], row["step"]) for row in latest) == [
            ("r1", "acc", 0.5, 0),
            ("r1", "loss", 0.5, 2),
            ("r2", "loss", 9.0, 5),
        ]

    def test_search_filters_orders_and_limits(self, store: CatalogStore) -> None:
        rows = [("a", 0.9, "xgb", "3"), ("b", 0.7, "xgb", "12"), ("c", 0.95, "lgbm", "5"), ("d", None, "xgb", "x")]
        with store.transaction() as tx:
            for index, (run_id, f1, model, depth) in enumerate(rows):
                tx.tracking.add_run(_run(run_id, minutes=index), None)
                tx.tracking.log_params(run_id, {"model": model, "depth": depth})
                if f1 is not None:
                    tx.tracking.log_metrics(_batch([(run_id, "f1", f1, 0)]))
            tx.tracking.add_run(_run("e", experiment="other", minutes=9), None)
            tx.tracking.set_tags("a", {"team": "risk"})

        def ids(search: RunSearch) -> list[str]:
            with store.transaction() as tx:
                found = [run.id for run in tx.tracking.search_runs(search)]
                if search.limit is None and not search.offset:
                    assert tx.tracking.count_runs(search) == len(found)
            return found

        f1_high = Comparison("metric", "f1", ">", 0.8)
        xgb = Comparison("param", "model", "=", "xgb")
        assert ids(RunSearch(filter=And((f1_high, xgb)))) == ["a"]
        assert ids(RunSearch(filter=Or((f1_high, xgb)), order_by=(OrderKey("metric", "f1", True),))) == [
            "c",
            "a",
            "b",
            "d",
        ]
        assert ids(RunSearch(experiments=("exp",), order_by=(OrderKey("metric", "f1"),))) == ["b", "a", "c", "d"]
        assert ids(
            RunSearch(filter=Comparison("param", "depth", ">", 4.0), order_by=(OrderKey("param", "depth"),))
        ) == [
            "c",
            "b",
        ]
        assert ids(RunSearch(filter=Comparison("param", "depth", "=", 12.0))) == ["b"]
        assert ids(RunSearch(filter=Comparison("param", "model", "in", ("lgbm", "rf")))) == ["c"]
        assert ids(RunSearch(filter=Comparison("tag", "team", "like", "ri%"))) == ["a"]
        assert ids(RunSearch(filter=Comparison("attribute", "experiment", "=", "other"))) == ["e"]
        assert ids(RunSearch(filter=Comparison("attribute", "start_time", ">=", "2026-01-02T03:06:05+00:00"))) == [
            "e",
            "d",
            "c",
        ]
        assert ids(RunSearch(limit=2)) == ["e", "d"]
        assert ids(RunSearch(run_ids=("a", "c"))) == ["c", "a"]
        assert ids(RunSearch(limit=2, offset=1)) == ["d", "c"]
        assert ids(RunSearch(offset=3)) == ["b", "a"]
        with store.transaction() as tx:
            assert tx.tracking.count_runs(RunSearch(filter=xgb, limit=1, offset=1)) == 3

    def test_pages_ordered_by_a_value_continue_with_the_runs_lacking_it(self, store: CatalogStore) -> None:
        # five runs with f1 and a numeric depth, three without f1 and with a text depth
        with store.transaction() as tx:
            for index in range(8):
                tx.tracking.add_run(_run(f"r{index}", minutes=index), None)
                tx.tracking.log_params(f"r{index}", {"depth": str(index) if index < 5 else "deep"})
                if index < 5:
                    tx.tracking.log_metrics(_batch([(f"r{index}", "f1", index / 10, 0)]))
        by_f1 = (OrderKey("metric", "f1", True),)
        by_depth = (OrderKey("param", "depth"),)
        whole = ["r4", "r3", "r2", "r1", "r0", "r7", "r6", "r5"]

        def page(order: tuple[OrderKey, ...], limit: int, offset: int) -> list[str]:
            with store.transaction() as tx:
                search = RunSearch(experiments=("exp",), order_by=order, limit=limit, offset=offset)
                return [run.id for run in tx.tracking.search_runs(search)]

        assert [page(by_f1, 3, offset) for offset in (0, 3, 6)] == [whole[0:3], whole[3:6], whole[6:8]]
        assert page(by_f1, 2, 5) == ["r7", "r6"] and page(by_f1, 9, 8) == []
        assert page(by_depth, 6, 0) == ["r0", "r1", "r2", "r3", "r4", "r7"]
        with store.transaction() as tx:  # a filter on the value the page is ordered by
            search = RunSearch(filter=Comparison("metric", "f1", ">", 0.15), order_by=by_f1, limit=2, offset=1)
            assert [run.id for run in tx.tracking.search_runs(search)] == ["r3", "r2"]
        with store.transaction() as tx:
            rows = tx.tracking.search_run_rows(RunSearch(order_by=by_f1, limit=6, offset=2))
            assert tx.tracking.search_run_rows(RunSearch(experiments=("other",))).num_rows == 0
            many = [f"r{index}" for index in range(300)]  # more ids than one query binds one by one
            assert tx.tracking.params(many).num_rows == 8 and tx.tracking.latest_metrics(many).num_rows == 5
        assert rows.column_names == [
            "run_id",
            "experiment",
            "name",
            "status",
            "start_time",
            "end_time",
            "parent_run_id",
        ]
        assert rows.column("run_id").to_pylist() == whole[2:8]
        assert rows.column("start_time").to_pylist()[0] == T0 + timedelta(minutes=2)

    def test_model_versions_tags_and_lookups(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            tx.tracking.add_run(_run("r1"), LINEAGE)
            assert [tx.registry.next_version("m", T0) for _ in range(3)] == [1, 2, 3]
            for version in (1, 2, 3):
                tx.registry.add_version(_version("m", version, "r1" if version < 3 else None))
            tx.registry.set_version_tags("m", 1, {"owner": "you", "stage": "prod"})
            tx.registry.set_description("m", 2, "second")
        with store.transaction() as tx:
            latest = tx.registry.find_version("m", None)
            first = tx.registry.find_version("m", 1)
            assert tx.registry.find_version("m", 9) is None
            assert [item.version for item in tx.registry.versions_for_runs(["r1"])] == [1, 2]
            assert [item.version for item in tx.registry.versions_for_training_data("fraud", 2)] == [1, 2, 3]
            model = tx.registry.find_model("m")
            assert [item.name for item in tx.registry.list_models()] == ["m"]
        assert latest == _version("m", 3, None)
        assert first is not None and first.tags == {"owner": "you", "stage": "prod"}
        assert model is not None and model.latest_version == 3

    def test_runs_and_versions_are_deleted_with_what_was_logged_to_them(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            tx.tracking.add_run(_run("r1"), LINEAGE)
            tx.tracking.add_run(_run("r2", parent="r1"), LINEAGE)
            tx.tracking.add_run(_run("r3"), None)
            for run_id in ("r1", "r2", "r3"):
                tx.tracking.log_params(run_id, {"p": "1"})
                tx.tracking.set_tags(run_id, {"t": "x"})
                tx.tracking.set_artifacts(run_id, {"a.json": f"runs/{run_id}/a.json"})
            tx.tracking.log_metrics(_batch([("r1", "f1", 0.5, 0), ("r2", "f1", 0.6, 0), ("r3", "f1", 0.7, 0)]))
            for version in (1, 2):
                tx.registry.next_version("m", T0)
                tx.registry.add_version(_version("m", version, "r3"))
            tx.registry.set_version_tags("m", 2, {"stage": "prod"})
        with store.transaction() as tx:
            tx.tracking.delete_runs(["r1", "r2"])
            tx.registry.delete_version("m", 2)
        with store.transaction() as tx:
            assert [run.id for run in tx.tracking.search_runs(RunSearch())] == ["r3"]
            assert tx.tracking.find_training_data("r1") is None
            assert tx.tracking.list_artifacts("r3") == {"a.json": "runs/r3/a.json"}
            assert tx.registry.find_version("m", 2) is None and tx.registry.find_version("m", None) == _version(
                "m", 1, "r3"
            )
            assert tx.registry.next_version("m", T0) == 3  # a deleted number is not given again
        assert store.counts()["run_params"] == 1 and store.counts()["run_metrics"] == 1

    def test_aliases_and_their_history(self, store: CatalogStore) -> None:
        with store.transaction() as tx:
            for version in (1, 2):
                tx.registry.next_version("m", T0)
                tx.registry.add_version(_version("m", version, None))
            tx.registry.set_alias(ModelAlias("m", "champion", 1, True), _move("champion", None, 1))
            tx.registry.set_alias(ModelAlias("m", "champion", 2, True), _move("champion", 1, 2, forced=True))
            tx.registry.set_alias(ModelAlias("m", "challenger", 1, False), _move("challenger", None, 1))
        with store.transaction() as tx:
            assert tx.registry.find_alias("m", "champion") == ModelAlias("m", "champion", 2, True)
            model = tx.registry.find_model("m")
            assert model is not None and model.aliases == {"challenger": 1, "champion": 2}
            second = tx.registry.find_version("m", 2)
            assert second is not None and second.aliases == ("champion",)
            tx.registry.delete_alias("m", "challenger", _move("challenger", 1, None))
        with store.transaction() as tx:
            assert tx.registry.find_alias("m", "challenger") is None
            history = tx.registry.alias_history("m")
            assert [(m.alias, m.from_version, m.to_version, m.is_forced) for m in history] == [
                ("champion", None, 1, False),
                ("champion", 1, 2, True),
                ("challenger", None, 1, False),
                ("challenger", 1, None, False),
            ]
            assert [m.to_version for m in tx.registry.alias_history("m", "champion")] == [1, 2]
            assert history[0] == _move("champion", None, 1)
