"""The fault-injection matrix: each write path killed with SIGKILL at each of its stages, on SQLite with local
files and on PostgreSQL with S3. Each case checks that the write left the previous state or the new one, never
a mix; that nothing it left behind trips a later operation; and that the next write succeeds.

Each operation below runs in a fresh interpreter (``tests.faults.kill_at``) that kills itself at the named
stage (``fti.faults.STAGES``); the scheduler's and stream jobs' stages are in their own folders' tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis

import fti
from fti.core.tracking import RunStatus
from fti.faults import STAGES
from fti.inference_log.spool import RequestSpool
from fti.inference_log.writer import LogRecord, RequestLogConfig, RequestLogger
from tests.faults import ROOT, kill_at, overrides_argument, read_overrides
from tests.integration.feature_data import cards_frame

pytestmark = pytest.mark.integration

BACKENDS = ["sqlite+local", "postgresql+s3"]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


class Constant:
    """A model that needs nothing to load."""

    def __init__(self, value: float = 1.0) -> None:
        self.value = value

    def predict(self, rows: object) -> list[float]:
        return [self.value]


@pytest.fixture
def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for the backends the test is parametrized with (``backend``): PostgreSQL and S3 (moto), with an
    emptied Redis database as the online store for ``postgresql+s3+redis``."""
    backend = request.node.callspec.params.get("backend", "sqlite+local")
    if backend == "sqlite+local":
        return {}
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    settings = {
        "catalog.url": request.getfixturevalue("postgres_url"),
        "offline_store.uri": f"s3://{bucket}/offline",
        "offline_store.endpoint_url": endpoint,
        "artifact_store.uri": f"s3://{bucket}/artifacts",
        "artifact_store.endpoint_url": endpoint,
    }
    if backend.endswith("+redis"):
        url = str(request.getfixturevalue("redis_url"))
        redis.Redis.from_url(url).flushdb()
        settings.update({"online_store.type": "redis", "online_store.url": url})
    return settings


# -- feature-group insert ------------------------------------------------------------------------------------


def insert_cards(folder: str, settings: str) -> None:
    """The write killed: the group's second insert."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        project.get_feature_group("cards").insert(cards_frame(6, 6))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("stage", "is_committed"),
    [
        ("insert.before_offline_commit", False),
        ("insert.after_offline_commit", False),
        ("insert.before_catalog_commit", False),
        ("insert.after_catalog_commit", True),
    ],
)
def test_an_insert_killed_at_any_stage(
    backend: str, stage: str, is_committed: bool, project_dir: Path, overrides: dict[str, Any]
) -> None:
    with fti.connect(project_dir, overrides=overrides) as project:
        cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
        cards.insert(cards_frame())
        before = cards.read()
        expected = (
            pd.concat([before, cards_frame(6, 6)], ignore_index=True).sort_values(["ts", "cc_num"], ignore_index=True)
            if is_committed
            else before
        )
    kill_at(stage, insert_cards, str(project_dir), overrides_argument(overrides))
    with fti.connect(project_dir, overrides=overrides) as project:
        cards = project.get_feature_group("cards")
        assert [commit.commit for commit in cards.commits()] == ([0, 1] if is_committed else [0])
        pd.testing.assert_frame_equal(cards.read(), expected, check_dtype=False)
        pd.testing.assert_frame_equal(cards.read(as_of=0), before)
        # the next insert takes the next number; rows a killed insert left offline stay hidden through
        # compaction and are deleted by vacuum
        number = len(cards.commits())
        assert cards.insert(cards_frame(12, 3)).commit == number
        after = cards.read()
        assert len(after) == len(expected) + 3
        cards.compact()
        cards.vacuum(retain=timedelta(0))
        pd.testing.assert_frame_equal(cards.read(), after)
        stamps = set(project.offline_store.read(cards.record.table).to_table().column("_fti_commit").to_pylist())
        assert stamps == {commit.stamp for commit in cards.commits()}


def first_insert(folder: str, settings: str) -> None:
    """The write killed: the first insert into a new group, which creates its table."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        project.get_feature_group("cards").insert(cards_frame())


@pytest.mark.parametrize(
    ("stage", "backend"),
    [
        ("insert.after_offline_commit", "sqlite+local"),
        ("insert.before_catalog_commit", "sqlite+local"),
        ("insert.after_offline_commit", "postgresql+s3"),
    ],
)
def test_a_first_insert_killed_leaves_no_schema_behind(
    stage: str, backend: str, project_dir: Path, overrides: dict[str, Any]
) -> None:
    with fti.connect(project_dir, overrides=overrides) as project:
        project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
    kill_at(stage, first_insert, str(project_dir), overrides_argument(overrides))
    # the killed insert left a table of its schema; the group has none, and takes the next first insert's
    other = cards_frame(0, 3).drop(columns=["country"]).assign(amount=lambda frame: frame["amount"].astype("int64"))
    with fti.connect(project_dir, overrides=overrides) as project:
        cards = project.get_feature_group("cards")
        assert cards.commits() == [] and cards.record.schema is None
        assert cards.insert(other.assign(merchant="m")).commit == 0
        assert [spec.name for spec in cards.record.schema or ()] == ["cc_num", "ts", "amount", "merchant"]
        pd.testing.assert_frame_equal(cards.read(), other.assign(merchant="m"), check_dtype=False)
        assert cards.insert(other.assign(merchant="n")).commit == 1


# -- the online store: an insert's online write and materialize ------------------------------------------------


def insert_online(folder: str, settings: str) -> None:
    """The write killed: an insert into an online group, with its online write."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        project.get_feature_group("cards").insert(cards_frame(6, 6).assign(amount=-1.0))


def materialize_in_batches(folder: str, settings: str) -> None:
    """The write killed: a materialization writing one key per batch."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        project.get_feature_group("cards").materialize(show_progress=False, batch_rows=1)


def _online(project: fti.Project) -> dict[int, float]:
    rows = project.online_store.read("cards_1", [0, 1, 2]).to_pylist()
    return {row["cc_num"]: row["amount"] for row in rows}


@pytest.mark.parametrize(
    ("stage", "operation", "backend"),
    [
        ("insert.after_catalog_commit", insert_online, "sqlite+local"),
        ("online.after_batch", insert_online, "sqlite+local"),
        ("online.after_batch", materialize_in_batches, "sqlite+local"),
        ("online.after_batch", insert_online, "postgresql+s3+redis"),
        ("online.after_batch", materialize_in_batches, "postgresql+s3+redis"),
    ],
)
def test_an_online_write_killed_leaves_each_key_old_or_new(
    stage: str, operation: Any, backend: str, project_dir: Path, overrides: dict[str, Any]
) -> None:
    with fti.connect(project_dir, overrides=overrides) as project:
        cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts", online=True)
        cards.insert(cards_frame())
        old = _online(project)
        if operation is materialize_in_batches:
            # the online store holds each key's first row only: a materialization has the latest ones to write
            project.online_store.delete_table("cards_1")
            cards.materialize(show_progress=False, end=datetime(2024, 1, 4, tzinfo=UTC))
            old = _online(project)
    kill_at(stage, operation, str(project_dir), overrides_argument(overrides))
    with fti.connect(project_dir, overrides=overrides) as project:
        cards = project.get_feature_group("cards")
        latest = cards.read().sort_values("ts").groupby("cc_num").last()["amount"].to_dict()
        online = _online(project)
        for key, amount in online.items():
            assert amount in (old.get(key), latest[key]), (key, amount, old, latest)
        if operation is materialize_in_batches:  # killed between its batches: the one key written is new
            assert sum(online[key] == latest[key] != old[key] for key in online) == 1, (online, old, latest)
        cards.materialize(show_progress=False)
        assert _online(project) == latest
        result = cards.insert(cards_frame(12, 3).assign(amount=7.0))
        assert result.online_error is None
        assert _online(project) == dict.fromkeys(range(3), 7.0)


# -- runs: the metric flush and the run's end -------------------------------------------------------------------


def log_and_end_run(folder: str, settings: str) -> None:
    """The write killed: a run logging 100 steps of a metric, then ending (which writes them)."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        run = project.start_run("faults", "killed")
        for step in range(100):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.end()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("stage", "is_committed"), [("metrics.before_commit", False), ("metrics.after_commit", True)])
def test_a_run_killed_while_its_metrics_and_end_are_written(
    backend: str, stage: str, is_committed: bool, project_dir: Path, overrides: dict[str, Any]
) -> None:
    kill_at(stage, log_and_end_run, str(project_dir), overrides_argument(overrides))
    with fti.connect(project_dir, overrides=overrides) as project:
        [killed] = project.runs("faults")["run_id"].tolist()
        run = project.get_run(killed)
        steps = run.metric_history("loss")["step"].tolist()
        # the points and the end are one transaction: all of them with the end, or none, and the run, whose
        # process is gone, failed as killed
        expected = (list(range(100)), RunStatus.FINISHED) if is_committed else ([], RunStatus.FAILED)
        assert (steps, run.status) == expected
        assert (run.info.error or "").startswith("killed: ") is not is_committed
        with project.start_run("faults", "next") as following:
            following.log_metrics({"loss": 0.5, "accuracy": 0.9})
        assert project.get_run(following.id).metrics == {"loss": 0.5, "accuracy": 0.9}
        assert project.delete_run(killed, force=True).run_ids == (killed,)


# -- the registry: registration, its files, alias moves ---------------------------------------------------------


def register_version(folder: str, settings: str) -> None:
    """The write killed: registering a version of 'scorer' (several files) from a new run."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project, project.start_run("faults") as run:
        run.log_model(Constant(2.0), "scorer", pip_requirements=["numpy"], input_example=pd.DataFrame({"x": [1.0]}))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("stage", "is_committed"),
    [
        ("artifacts.after_file", False),
        ("registry.before_version_commit", False),
        ("registry.after_version_commit", True),
    ],
)
def test_a_registration_killed_at_any_stage(
    backend: str, stage: str, is_committed: bool, project_dir: Path, overrides: dict[str, Any]
) -> None:
    with fti.connect(project_dir, overrides=overrides) as project, project.start_run("faults") as run:
        run.log_model(Constant(1.0), "scorer")
    kill_at(stage, register_version, str(project_dir), overrides_argument(overrides))
    with fti.connect(project_dir, overrides=overrides) as project:
        versions = project.registry.list_versions("scorer")
        assert [version.version for version in versions] == ([1, 2] if is_committed else [1])
        assert [version.predict(pd.DataFrame({"x": [1.0]})) for version in versions] == [[1.0], [2.0]][: len(versions)]
        with project.start_run("faults") as run:
            following = run.log_model(Constant(3.0), "scorer")
        assert following.version == len(versions) + 1
        assert project.get_model("scorer").predict(pd.DataFrame({"x": [1.0]})) == [3.0]
        # the killed registration's files: collected once its run is marked failed, never a registered version's
        project.fail_killed_runs()
        collected = project.collect_unregistered_files(timedelta(0))
        assert len(collected.folders) == (0 if is_committed else 1) and (collected.files > 0) is not is_committed
        registered = {
            item.record.artifact_prefix.rstrip("/") + "/" for item in project.registry.list_versions("scorer")
        }
        folders = {"/".join(record.key.split("/")[:4]) + "/" for record in project.artifacts.list("runs/")}
        assert {folder for folder in folders if "/models/" in folder} == registered
        assert project.collect_unregistered_files(timedelta(0)).folders == ()
        assert [entry.target for entry in project.audit(action="model_files.collect")] == list(collected.folders)


def move_alias(folder: str, settings: str) -> None:
    """The write killed: moving 'champion' from v1 to v2."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        project.get_model("scorer:2").set_alias("champion")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_alias_move_killed_before_its_commit(backend: str, project_dir: Path, overrides: dict[str, Any]) -> None:
    with fti.connect(project_dir, overrides=overrides) as project, project.start_run("faults") as run:
        run.log_model(Constant(1.0), "scorer").set_alias("champion")
        run.log_model(Constant(2.0), "scorer")
    kill_at("alias.before_commit", move_alias, str(project_dir), overrides_argument(overrides))
    with fti.connect(project_dir, overrides=overrides) as project:
        champion = project.get_model("scorer@champion")
        assert champion.version == 1
        assert [(move.from_version, move.to_version) for move in champion.alias_history("champion")] == [(None, 1)]
        project.get_model("scorer:2").set_alias("champion")
        moves = project.get_model("scorer@champion").alias_history("champion")
        assert [(move.from_version, move.to_version) for move in moves] == [(None, 1), (1, 2)]


# -- deployments -----------------------------------------------------------------------------------------------


def redeploy(folder: str, settings: str) -> None:
    """The write killed: pointing the deployment 'fraud' at v2."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        project.deploy("fraud", "scorer:2")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("stage", "is_committed"), [("deployment.before_commit", False), ("deployment.after_commit", True)]
)
def test_a_deployment_change_killed_at_any_stage(
    backend: str, stage: str, is_committed: bool, project_dir: Path, overrides: dict[str, Any]
) -> None:
    with fti.connect(project_dir, overrides=overrides) as project:
        with project.start_run("faults") as run:
            run.log_model(Constant(1.0), "scorer", input_example=pd.DataFrame({"x": [1.0]}))
            run.log_model(Constant(2.0), "scorer", input_example=pd.DataFrame({"x": [1.0]}))
        before = project.deploy("fraud", "scorer:1")
    kill_at(stage, redeploy, str(project_dir), overrides_argument(overrides))
    with fti.connect(project_dir, overrides=overrides) as project:
        current = project.get_deployment("fraud")
        assert [variant.reference for variant in current.variants] == ["scorer:2" if is_committed else "scorer:1"]
        assert (current.etag == before.etag) is not is_committed
        assert [item.name for item in project.deployments()] == ["fraud"]
        changed = project.deploy("fraud", {"scorer:1": 0.5, "scorer:2": 0.5})
        assert project.get_deployment("fraud").etag == changed.etag


# -- the request log -------------------------------------------------------------------------------------------


def _record(request_id: str) -> LogRecord:
    frame = pd.DataFrame({"amount": [1.0, 2.0]})
    return LogRecord(request_id, T0, "fraud", "scorer@champion", "scorer", 1, frame, np.array([0.1, 0.2]), 1.0, False)


def _logger(project: fti.Project, folder: Path) -> RequestLogger:
    config = RequestLogConfig(flush_seconds=60, spool_seconds=0.01)
    return RequestLogger(project.inference_log, config, spool=RequestSpool(folder / "spool"))


def log_requests(folder: str, settings: str) -> None:
    """The write killed: the request log writing three acknowledged requests (two rows each)."""
    with fti.connect(folder, overrides=read_overrides(settings)) as project:
        logger = _logger(project, Path(folder))
        logger.start()
        for request_id in ("a", "b", "c"):
            logger.log(_record(request_id))
        logger.flush()
        logger.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stage", ["request_log.before_write", "request_log.after_write"])
def test_a_request_log_flush_killed_logs_each_request_once(
    backend: str, stage: str, project_dir: Path, overrides: dict[str, Any]
) -> None:
    kill_at(stage, log_requests, str(project_dir), overrides_argument(overrides))
    with fti.connect(project_dir, overrides=overrides) as project:
        logger = _logger(project, project_dir)
        assert logger.replay() == 6
        logger.start()
        logger.log(_record("d"))
        logger.close()
        logged = sorted(project.inference_log.read("fraud").column("request_id").to_pylist())
        assert logged == ["a", "a", "b", "b", "c", "c", "d", "d"]
        assert list((project_dir / "spool").glob("*.arrows")) == []


# -- the matrix is complete ------------------------------------------------------------------------------------


def test_every_kill_point_is_a_known_stage_and_every_stage_is_tested() -> None:
    called = {
        match
        for path in (ROOT / "src" / "fti").rglob("*.py")
        for match in re.findall(r'kill_point\("([^"]+)"\)', path.read_text())
    }
    assert called == set(STAGES)
    tests = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    untested = [stage for stage in STAGES if f'"{stage}"' not in tests]
    assert not untested, f"stages no fault test kills at: {untested}"
