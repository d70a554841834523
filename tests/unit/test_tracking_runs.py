"""Runs on the embedded catalog: logging, buffering, failures, nesting, artifacts and queries."""

from __future__ import annotations

import atexit
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fti
from fti.core.tracking import RunStatus
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.tracking.buffer import MetricBuffer

SRC = Path(__file__).resolve().parents[2] / "src"


def _metric_rows(project: fti.Project) -> int:
    return project.counts()["run_metrics"]


def test_run_records_params_metrics_tags_and_environment(project: fti.Project) -> None:
    with project.start_run("fraud", name="baseline", tags={"team": "risk"}) as run:
        run.log_params({"model": "xgb", "max_depth": 6, "lr": 0.1})
        run.log_metric("f1", 0.5)
        run.log_metrics({"f1": 0.9, "auc": 0.95})
        run.set_tag("stage", "dev")
    info = run.info
    assert info.status is RunStatus.FINISHED
    assert info.end_time is not None and info.end_time >= info.start_time
    assert info.experiment == "fraud" and info.name == "baseline"
    assert info.python_version == ".".join(map(str, sys.version_info[:3]))
    assert info.packages["pandas"]
    assert run.params == {"model": "xgb", "max_depth": "6", "lr": "0.1"}
    assert run.metrics == {"f1": 0.9, "auc": 0.95}
    assert run.tags == {"team": "risk", "stage": "dev"}


def test_code_version_is_captured_from_git(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    (folder / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "train.py"], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=folder, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, check=True, capture_output=True, text=True)
    with fti.connect(folder) as project, project.start_run("exp") as run:
        code = run.info.code
    assert code.git_commit == head.stdout.strip()
    assert code.is_dirty is False
    assert code.entry_point


def test_metric_steps_default_to_a_counter_and_latest_is_the_highest_step(project: fti.Project) -> None:
    with project.start_run("exp") as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.7, step=10)
        run.log_metric("acc", 0.1, step=2)
    history = run.metric_history("loss")
    assert history["step"].tolist() == [0, 1, 2]
    assert history["value"].tolist() == [3.0, 2.0, 1.0]
    assert str(history["timestamp"].dt.tz) == "UTC"
    assert run.metrics == {"loss": 1.0, "acc": 0.7}


def test_latest_metric_survives_batches_with_lower_steps(project: fti.Project) -> None:
    with project.start_run("exp") as run:
        run.log_metric("acc", 0.9, step=5)
        project.tracking.buffer.flush()
        run.log_metric("acc", 0.2, step=1)
        run.log_metric("acc", 0.3, step=5)
    assert run.metrics == {"acc": 0.3}


def test_metrics_are_buffered_and_written_in_batches(project: fti.Project) -> None:
    buffer = MetricBuffer(project.catalog, max_points=5, interval=3600)
    run = project.start_run("exp")
    try:
        for step in range(4):
            buffer.add(run.id, "loss", 1.0, step, 0)
        assert _metric_rows(project) == 0
        buffer.add(run.id, "loss", 1.0, 4, 0)
        assert _metric_rows(project) == 5
    finally:
        buffer.close()
        run.end()


def test_timer_thread_flushes_the_buffer(project: fti.Project) -> None:
    buffer = MetricBuffer(project.catalog, interval=0.05)
    run = project.start_run("exp")
    try:
        buffer.add(run.id, "loss", 1.0, 0, 0)
        deadline = time.monotonic() + 30
        while _metric_rows(project) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _metric_rows(project) == 1
    finally:
        buffer.close()
        run.end()


def test_failing_run_is_marked_failed_and_keeps_its_metrics(project: fti.Project) -> None:
    with pytest.raises(ZeroDivisionError), project.start_run("exp") as run:
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1))
        _ = 1 / 0
    info = run.info
    assert info.status is RunStatus.FAILED
    assert info.error == "ZeroDivisionError: division by zero"
    assert run.metric_history("loss")["value"].tolist() == [1.0, 0.5, 1 / 3]


def test_nested_runs_from_context_and_explicit_parent(project: fti.Project) -> None:
    with project.start_run("tune", name="search") as parent:
        with project.start_run("tune", name="trial-1") as first:
            first.log_metric("f1", 0.7)
        second = project.start_run("tune", name="trial-2", parent=parent.id)
        second.end()
        assert project.tracking.active_run is parent
    assert first.parent_run_id == parent.id
    assert second.parent_run_id == parent.id
    assert project.tracking.active_run is None
    lineage = project.lineage(parent)
    assert set(lineage.child_run_ids) == {first.id, second.id}
    children = project.runs(filter=f"parent_run_id = '{parent.id}'")
    assert set(children["run_id"]) == {first.id, second.id}


def test_unknown_parent_is_refused(project: fti.Project) -> None:
    with pytest.raises(NotFoundError, match="Parent run 'nope' does not exist"):
        project.start_run("exp", parent="nope")


def test_params_are_fixed_once_logged(project: fti.Project) -> None:
    with project.start_run("exp") as run:
        run.log_param("depth", 3)
        run.log_param("depth", 3)
        with pytest.raises(ConflictError) as caught:
            run.log_param("depth", 4)
    assert str(caught.value) == (
        f"Run '{run.id}' already has param 'depth' = '3'; it cannot change to '4'. "
        "Params are fixed inputs: log a metric or tag instead, or start a new run."
    )


def test_ended_run_refuses_logging(project: fti.Project) -> None:
    run = project.start_run("exp")
    run.end()
    run.end()  # a second end is a no-op
    with pytest.raises(ConflictError, match=f"Cannot log metrics: run '{run.id}' has ended"):
        run.log_metric("x", 1.0)
    reopened = project.get_run(run.id)
    with pytest.raises(ConflictError, match="Cannot log params"):
        reopened.log_params({"a": 1})


def test_invalid_names_and_values_are_refused(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="Invalid experiment name 'my exp'"):
        project.start_run("my exp")
    with project.start_run("exp") as run:
        with pytest.raises(ValidationError, match="Invalid metric key 'a\\*b'"):
            run.log_metric("a*b", 1.0)
        with pytest.raises(ValidationError, match=r"Metric 'loss' of run '\w+' is nan: log finite numbers only\."):
            run.log_metric("loss", float("nan"))
    with pytest.raises(NotFoundError, match=re.escape("Run 'missing' does not exist: list runs with `fti runs list`.")):
        project.get_run("missing")


def test_artifacts_files_folders_dicts_and_figures(project: fti.Project, tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    (tmp_path / "report.txt").write_text("hello")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x\n1\n")
    (folder / "sub" / "b.csv").write_text("y\n2\n")
    figure = Figure()
    figure.add_subplot().plot([1, 2, 3])
    with project.start_run("exp") as run:
        assert run.log_artifact(tmp_path / "report.txt") == ["report.txt"]
        assert run.log_artifact(folder, artifact_path="data") == ["data/a.csv", "data/sub/b.csv"]
        assert run.log_dict({"depth": 3}, "config/params.json") == "config/params.json"
        assert run.log_figure(figure, "loss.png") == "loss.png"
    assert run.artifacts == {
        "config/params.json": f"runs/{run.id}/artifacts/config/params.json",
        "data/a.csv": f"runs/{run.id}/artifacts/data/a.csv",
        "data/sub/b.csv": f"runs/{run.id}/artifacts/data/sub/b.csv",
        "loss.png": f"runs/{run.id}/artifacts/loss.png",
        "report.txt": f"runs/{run.id}/artifacts/report.txt",
    }
    assert run.read_artifact("report.txt") == b"hello"
    assert json.loads(run.read_artifact("config/params.json")) == {"depth": 3}
    assert run.read_artifact("loss.png").startswith(b"\x89PNG")
    assert project.artifacts.get_record(f"runs/{run.id}/artifacts/report.txt").size == 5
    with pytest.raises(NotFoundError, match=f"Run '{run.id}' has no artifact 'nope.txt'"):
        run.read_artifact("nope.txt")


def test_log_figure_needs_a_figure(project: fti.Project) -> None:
    with project.start_run("exp") as run, pytest.raises(ValidationError, match="log_figure needs a matplotlib Figure"):
        run.log_figure("not a figure", "x.png")


def _seed(project: fti.Project) -> dict[str, str]:
    ids = {}
    for name, model, depth, f1, team in [
        ("a", "xgb", 3, 0.91, "risk"),
        ("b", "xgb", 8, 0.85, "growth"),
        ("c", "lgbm", 5, 0.95, "risk"),
        ("d", "xgb", 10, 0.60, "risk"),
    ]:
        with project.start_run("fraud", name=name, tags={"team": team}) as run:
            run.log_params({"model": model, "depth": depth})
            run.log_metric("f1", f1)
        ids[name] = run.id
    with project.start_run("other", name="e") as run:
        run.log_params({"model": "xgb"})
        run.log_metric("f1", 0.99)
    ids["e"] = run.id
    return ids


def test_runs_filters_orders_and_limits_in_sql(project: fti.Project) -> None:
    _seed(project)
    frame = project.runs("fraud", filter="metrics.f1 > 0.8 and params.model = 'xgb'", order_by=["-metrics.f1"])
    assert frame["name"].tolist() == ["a", "b"]
    assert frame["metrics.f1"].tolist() == [0.91, 0.85]
    assert frame["params.model"].tolist() == ["xgb", "xgb"]
    assert {"run_id", "experiment", "status", "start_time", "tags.team"} <= set(frame.columns)

    def names(**query: object) -> list[str]:
        return project.runs(**query)["name"].tolist()  # type: ignore[arg-type]

    assert names(filter="params.depth >= 8", order_by=["params.depth"]) == ["b", "d"]
    assert names(filter="tags.team = 'risk' or metrics.f1 > 0.98", order_by=["name"]) == ["a", "c", "d", "e"]
    assert names(filter="params.model in ('lgbm', 'rf')") == ["c"]
    assert names(filter="tags.team like 'gr%'") == ["b"]
    assert names(order_by=["-metrics.f1"], limit=2) == ["e", "c"]
    assert names(experiment=["other"]) == ["e"]
    assert names(filter="status = 'running'") == []
    assert project.runs("nothing-here").empty


def test_runs_without_values_sort_last(project: fti.Project) -> None:
    ids = _seed(project)
    with project.start_run("fraud", name="no-metric"):
        pass
    frame = project.runs("fraud", order_by=["metrics.f1"])
    assert frame["name"].tolist() == ["d", "b", "a", "c", "no-metric"]
    assert ids["d"] == frame["run_id"].iloc[0]


def test_compare_runs_side_by_side(project: fti.Project) -> None:
    ids = _seed(project)
    table = project.compare_runs([ids["a"], ids["c"]])
    assert list(table.columns) == [ids["a"], ids["c"]]
    assert table.loc["params.model"].tolist() == ["xgb", "lgbm"]
    assert table.loc["metrics.f1"].tolist() == [0.91, 0.95]
    with pytest.raises(NotFoundError, match=re.escape("Cannot compare runs: 'zzz' do not exist.")):
        project.compare_runs([ids["a"], "zzz"])


_SCRIPT = """
import sys
import fti
project = fti.connect(sys.argv[1])
run = project.start_run("exp", name=sys.argv[2])
for step in range(250):
    run.log_metric("loss", 1.0 / (step + 1))
if sys.argv[2] == "crash":
    raise RuntimeError("boom")
"""


@pytest.mark.parametrize(
    ("mode", "status", "error"), [("exit", "finished", None), ("crash", "failed", "RuntimeError: boom")]
)
def test_interpreter_exit_writes_buffered_metrics(project_dir: Path, mode: str, status: str, error: str | None) -> None:
    fti.connect(project_dir).close()
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(project_dir), mode],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) == (mode == "exit"), result.stderr
    with fti.connect(project_dir) as project:
        frame = project.runs("exp")
        assert frame["status"].tolist() == [status]
        run = project.get_run(frame["run_id"].iloc[0])
        assert run.info.error == error
        assert len(run.metric_history("loss")) == 250


def test_services_register_an_exit_hook_only_while_runs_may_be_left_open(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[object] = []
    unregistered: list[object] = []
    monkeypatch.setattr(atexit, "register", registered.append)  # the interpreter's registry, recorded
    monkeypatch.setattr(atexit, "unregister", unregistered.append)
    project = fti.connect(project_dir)
    try:
        MetricBuffer(project.catalog)
        assert registered == []  # creating the project, its services and a buffer registers nothing
        with project.start_run("exp"):
            assert len(registered) == 1
        project.start_run("exp")
        assert len(registered) == 1  # one hook per service, whatever the number of runs
    finally:
        project.close()
    assert unregistered == registered
