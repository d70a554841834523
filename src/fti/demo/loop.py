"""The whole FTI loop on generated card transactions, stage by stage, as ``fti demo`` runs it.

The data covers a history (features and labels: the training data) and three live days that the model
server scores: a normal day, then two days of a travel season (injected drift). The monitoring stage
finds the drift in the travel-season window only, an alert retrains the model on the labels that came
in, the challenger gets half of the traffic, and the A/B test on the third day's labels promotes it.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

import fti
from fti.config import CONFIG_FILE, load_config
from fti.demo.feature_pipeline import insert_labels, run_feature_pipeline
from fti.demo.monitoring_pipeline import DEPLOYMENT, ab_test, check_window, log_delayed_labels, wait_for_log
from fti.demo.traffic import ModelServer, send_transactions
from fti.demo.training_pipeline import MODEL_NAME, create_feature_view, retrain_boosted, run_training_pipeline
from fti.demo.transactions import generate_transactions, travel_season
from fti.errors import ConflictError, NotFoundError
from fti.init_template import render_config_template

__all__ = [
    "DEMO_PROJECT",
    "LIVE_DAYS",
    "REPORTS_FOLDER",
    "WARMUP_DAYS",
    "DemoReporter",
    "DemoSettings",
    "StageTiming",
    "prepare_folder",
    "run_demo",
]

DEMO_PROJECT = "fti_demo"
REPORTS_FOLDER = "reports"
#: the 7-day windows are not full before this; training starts after it
WARMUP_DAYS = 7
#: live days the server scores: a normal one, then two of the travel season
LIVE_DAYS = 3
CHAMPION = f"{MODEL_NAME}@champion"


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """Sizes of the demo: the full one, or a fast one for CI."""

    cards: int = 2_000
    days: int = 30
    trials: int = 8
    epochs: int = 8
    seed: int = 7
    #: concurrent HTTP clients of the request stream (the server micro-batches their requests)
    clients: int = 8
    #: requests per monitoring window (a sample of the day's transactions)
    window_requests: int = 500
    #: requests of the A/B day: enough for an effect of 5 points of accuracy to be detectable
    ab_requests: int = 1_200
    #: the challenger's traffic share in the A/B split
    challenger_share: float = 0.5

    @classmethod
    def fast(cls) -> DemoSettings:
        """Small enough to finish in well under a minute."""
        return cls(cards=500, days=21, trials=3, epochs=5, window_requests=200, ab_requests=600)


@dataclass(slots=True)
class StageTiming:
    """How long each stage took, in order."""

    seconds: dict[str, float] = field(default_factory=dict)


class DemoReporter(Protocol):
    """Where the demo reports what it does (the CLI shows it with rich)."""

    def stage(self, name: str, description: str) -> None:
        """A stage starts."""

    def note(self, message: str) -> None:
        """Something the stage found or did."""

    def progress(self, description: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
        """A countable step: the context gives a function that advances it."""


class _Silent:
    def stage(self, name: str, description: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def progress(self, description: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
        return contextlib.nullcontext(lambda _count: None)


def prepare_folder(folder: Path) -> None:
    """Create ``folder`` as a fresh demo project; a previous demo there is replaced, anything else refused."""
    if folder.exists() and any(folder.iterdir()):
        config_file = folder / CONFIG_FILE
        if not config_file.is_file() or load_config(folder).config.project != DEMO_PROJECT:
            raise ConflictError(
                f"{folder} exists and is not a demo project: choose an empty or new folder with --keep."
            )
        shutil.rmtree(folder / ".fti", ignore_errors=True)
        shutil.rmtree(folder / REPORTS_FOLDER, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(render_config_template(DEMO_PROJECT), encoding="utf-8")


def run_demo(folder: Path, settings: DemoSettings, reporter: DemoReporter | None = None) -> StageTiming:
    """Run every stage of the loop in a fresh demo project in ``folder``."""
    prepare_folder(folder)
    timing = StageTiming()
    report = reporter or _Silent()
    with fti.connect(folder) as project, contextlib.ExitStack() as cleanup:
        demo = _Demo(project, settings, report, folder, cleanup)
        for name, description, stage in _STAGES:
            report.stage(name, description)
            start = time.perf_counter()
            stage(demo)
            timing.seconds[name] = time.perf_counter() - start
    return timing


@dataclass(slots=True)
class _Demo:
    """What the stages share: the project, the settings, and what earlier stages produced."""

    project: fti.Project
    settings: DemoSettings
    report: DemoReporter
    folder: Path
    cleanup: contextlib.ExitStack
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def reports(self) -> Path:
        return self.folder / REPORTS_FOLDER

    def live_day(self, index: int, requests: int) -> pd.DataFrame:
        """A sample of ``requests`` transactions of live day ``index`` (0, 1, 2), in time order, with features."""
        live: pd.DataFrame = self.state["live"]
        start = self.state["live_start"] + timedelta(days=index)
        day = live[(live["ts"] >= start) & (live["ts"] < start + timedelta(days=1))]
        sample: pd.DataFrame = day.sample(n=min(requests, len(day)), random_state=self.settings.seed + index)
        return sample.sort_values("ts", kind="stable")

    def stream(self, server: ModelServer, description: str, rows: pd.DataFrame) -> pd.DataFrame:
        """Score ``rows`` through the server, with a progress bar."""
        inputs = self.state["inputs"]
        with self.report.progress(description, len(rows)) as advance:
            served = send_transactions(
                server.url, DEPLOYMENT, rows, inputs, clients=self.settings.clients, on_answer=advance
            )
        self.state.setdefault("served", []).append(served)
        return served


def _generate(demo: _Demo) -> None:
    settings = demo.settings
    data = generate_transactions(cards=settings.cards, days=settings.days + LIVE_DAYS, seed=settings.seed)
    first_day = data.transactions["ts"].min().floor("D").to_pydatetime()
    live_start = first_day + timedelta(days=settings.days)
    season = live_start + timedelta(days=1)
    data = travel_season(data, season, seed=settings.seed)
    demo.state.update(
        data=data, live_start=live_start, warmup_end=first_day + timedelta(days=WARMUP_DAYS), season_start=season
    )
    demo.report.note(
        f"{len(data.transactions):,} transactions of {settings.cards:,} cards over {settings.days + LIVE_DAYS} days, "
        f"{data.fraud_rate:.2%} fraud; the last {LIVE_DAYS} days are live traffic, the travel season "
        f"(injected drift) starts {season:%Y-%m-%d}"
    )


def _features(demo: _Demo) -> None:
    data = demo.state["data"]
    groups = run_feature_pipeline(demo.project, data.transactions, data.cards, labelled_until=demo.state["live_start"])
    demo.state["groups"] = groups
    demo.report.note(
        f"{len(groups)} feature groups; labels up to {demo.state['live_start']:%Y-%m-%d} (later ones arrive late)"
    )


def _training(demo: _Demo) -> None:
    settings, project = demo.settings, demo.project
    view = create_feature_view(project, demo.state["groups"])
    outcome = run_training_pipeline(
        project,
        view,
        start=demo.state["warmup_end"],
        trials=settings.trials,
        epochs=settings.epochs,
        seed=settings.seed,
    )
    demo.state["training"] = outcome
    for version in (outcome.boosted, outcome.mlp):
        demo.report.note(
            f"{version.name}:{version.version} ({'XGBoost' if version is outcome.boosted else 'MLP'}): "
            f"test ROC-AUC {outcome.scores[version.version]:.4f}"
        )
    demo.report.note(f"champion: {outcome.champion.name}:{outcome.champion.version}")


def _inference(demo: _Demo) -> None:
    project, state = demo.project, demo.state
    live_start: datetime = state["live_start"]
    deployment = project.deploy(DEPLOYMENT, {CHAMPION: 1.0}, entity_key="cc_num")
    server = ModelServer(
        demo.folder,
        log_file=demo.folder / ".fti" / "demo-server.log",
        settings={"refresh_seconds": "1", "log_flush_seconds": "0.2", "batching": "true"},
    )
    demo.cleanup.callback(server.stop)
    server.launch()  # it starts while the batch predictions run
    state["server"] = server
    predictions = project.batch_predict(
        CHAMPION, start=live_start - timedelta(days=1), output="fraud_predictions", show_progress=False
    )
    demo.report.note(f"batch: {predictions.rows:,} predictions for {live_start - timedelta(days=1):%Y-%m-%d}")
    demo.report.note(f"deployment '{deployment.name}': {CHAMPION} takes all traffic, sticky by card")
    # the live transactions with their features, as a client computes them at request time
    frames = {group.name: group.read() for group in state["groups"][:3]}
    inputs = [column.name for column in project.get_model(CHAMPION).signature.inputs]  # type: ignore[union-attr]
    live = state["data"].transactions
    live = live[live["ts"] >= live_start][["tx_id", "cc_num", "merchant_id", "ts"]]
    live = live.merge(frames["transactions"][["tx_id", "amount", "category"]], on="tx_id")
    live = live.merge(frames["card_activity"], on=["cc_num", "ts"]).merge(
        frames["merchant_stats"], on=["merchant_id", "ts"]
    )
    state.update(live=live.sort_values("ts", kind="stable"), inputs=inputs)
    server.wait_ready()
    demo.report.note(f"fti serve is up on {server.url}")
    windows = [datetime.now(UTC)]
    demo.stream(server, "normal day", demo.live_day(0, demo.settings.window_requests))
    windows.append(datetime.now(UTC))
    demo.stream(server, "travel season, day 1", demo.live_day(1, demo.settings.window_requests))
    windows.append(datetime.now(UTC))
    state["windows"] = windows


def _monitoring(demo: _Demo) -> None:
    project, state, settings = demo.project, demo.state, demo.settings
    server: ModelServer = state["server"]
    transactions = state["data"].transactions
    wait_for_log(project, sum(len(served) for served in state["served"]))
    first_days = pd.concat(state["served"])
    labels = insert_labels(project, transactions[transactions["tx_id"].isin(first_days["tx_id"])])
    demo.report.note(f"{labels:,} late labels of the scored transactions arrived: a new fraud_labels commit")
    outcome = state["training"]
    retraining = project.retraining(
        DEPLOYMENT,
        lambda project: retrain_boosted(
            project, params=outcome.boosted_params, start=state["warmup_end"], seed=settings.seed
        ),
        share=settings.challenger_share,
    )
    start, middle, end = state["windows"]
    for name, window_start, window_end in (("normal-day", start, middle), ("travel-season", middle, end)):
        checked = check_window(project, name, window_start, window_end, reports=demo.reports, actions=(retraining,))
        drifted = ", ".join(checked.result.drifted_features) or "none"
        demo.report.note(f"{name}: {checked.result.window['rows']:,} requests, drifted features: {drifted}")
        for alert in checked.alerts:
            demo.report.note(f"  alert: {alert.message}")
    try:
        challenger = project.get_model(f"{MODEL_NAME}@challenger")
    except NotFoundError:
        demo.report.note("no alert fired: nothing to retrain")
        server.stop()
        return
    champion = project.get_model(CHAMPION)
    demo.report.note(
        f"retrained: {challenger.name}:{challenger.version} is the challenger with "
        f"{settings.challenger_share:.0%} of the traffic"
    )
    server.wait_for_versions(DEPLOYMENT, {champion.version, challenger.version})
    served = demo.stream(server, "travel season, day 2 (A/B)", demo.live_day(2, settings.ab_requests))
    server.stop()  # graceful: the request log is flushed
    wait_for_log(project, sum(len(part) for part in state["served"]))
    labels = log_delayed_labels(project, served, transactions)
    demo.report.note(f"{labels:,} late labels of the A/B day arrived: in the request log and fraud_labels")
    ab = ab_test(project, reports=demo.reports)
    for variant in ab.variants:
        demo.report.note(f"A/B {variant.model}: accuracy {variant.value:.4f} on {variant.rows:,} labelled requests")
    if ab.promoted:
        project.deploy(DEPLOYMENT, {CHAMPION: 1.0}, entity_key="cc_num")
        demo.report.note(f"promoted: {ab.promoted} is the champion and takes all traffic again")
    else:
        demo.report.note("no significant winner: the champion stays")


Stage = Callable[[_Demo], None]

#: (name, what the user sees, the stage): each reads and adds to the shared state
_STAGES: list[tuple[str, str, Stage]] = [
    ("data", "Generating card transactions", _generate),
    ("features", "Feature pipeline: four feature groups", _features),
    ("training", "Training pipeline: tuned XGBoost and a PyTorch MLP", _training),
    ("inference", "Inference pipeline: batch predictions, fti serve, a stream of requests", _inference),
    ("monitoring", "Monitoring: drift, alert, retraining, A/B test, promotion", _monitoring),
]
