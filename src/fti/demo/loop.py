"""The whole FTI loop on generated card transactions, stage by stage, as ``fti demo`` runs it.

The data covers a history (features and labels: the training data) and three live days that the model
server scores: a normal day, then two days of a travel season (injected drift). The script only plays the
world: data and labels arriving, requests to the model server, a monitoring check asked for each window.
Everything else runs as pipelines (:mod:`fti.demo.pipelines`) that the scheduler starts on catalog events:
the new transactions start the feature pipeline, which starts training, whose champion starts the
deployment; the drift alert of the travel-season window starts retraining, whose challenger gets half of
the traffic; the third day's labels start the A/B analysis, which promotes the challenger, which starts
the deployment again. Each pass of the scheduler runs until nothing is left to start (``--once``). The live
stage then streams the A/B day's card events through Redis (:mod:`fti.demo.live_stage`).

A month is played in minutes: every request carries its transaction's time (``X-Request-Time``, which the demo's
model servers are configured to trust), so the request log, the monitoring windows and the dashboard's charts
show the days the traffic stands for. The A/B day brings a wave of card fraud (fraudsters hiding among the
travellers, recognisable by where and when they use the card): with fraud under 1% a day's traffic would hold a
handful of cases, too few to rank models by, and the A/B test compares the versions on average precision (how
many alarms are fraud, over every threshold).
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

import fti
from fti.config import CONFIG_FILE, load_config
from fti.core.pipelines import RunState
from fti.demo.feature_pipeline import insert_labels, insert_transactions
from fti.demo.live_stage import run_live_stage
from fti.demo.monitoring_pipeline import DEPLOYMENT, log_delayed_labels, wait_for_log
from fti.demo.pipelines import CHAMPION, REPORTS_FOLDER, SETTINGS_KEY
from fti.demo.traffic import ModelServer, score_by_keys, send_transactions
from fti.demo.training_pipeline import FEATURE_VIEW, MODEL_NAME
from fti.demo.transactions import fraud_wave, generate_transactions, travel_season
from fti.errors import BackendError, ConflictError, NotFoundError
from fti.init_template import render_config_template
from fti.orchestration import Scheduler

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
#: the 7-day windows are not full before this; training starts after it
WARMUP_DAYS = 7
#: live days the server scores: a normal one, then two of the travel season
LIVE_DAYS = 3


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
    #: share of the cards compromised on the A/B day (a fraud wave): enough fraud to compare models on
    ab_fraud_share: float = 0.03
    #: share of the cards compromised over the history: fraud stays under 1% of transactions, and the history
    #: holds enough compromised cards (a few dozen) for the models to learn what fraud looks like
    compromised_share: float = 0.015

    @classmethod
    def fast(cls) -> DemoSettings:
        """Small enough to finish in well under a minute."""
        return cls(cards=500, days=21, trials=3, epochs=5, window_requests=200, ab_requests=600, compromised_share=0.04)


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
    config = render_config_template(DEMO_PROJECT).replace("pipelines: []", "pipelines: [fti.demo.pipelines]")
    (folder / CONFIG_FILE).write_text(config, encoding="utf-8")


def run_demo(folder: Path, settings: DemoSettings, reporter: DemoReporter | None = None) -> StageTiming:
    """Run every stage of the loop in a fresh demo project in ``folder``."""
    prepare_folder(folder)
    timing = StageTiming()
    report = reporter or _Silent()
    with fti.connect(folder) as project, contextlib.ExitStack() as cleanup:
        demo = _Demo(project, settings, report, folder, cleanup, project.orchestration.scheduler())
        cleanup.callback(demo.scheduler.close)
        demo.scheduler.register()  # the pipelines react to the data that lands from now on
        # the pipelines' processes get ready while the data is generated
        threading.Thread(target=demo.scheduler.warm_up, name="fti-demo-warm-up", daemon=True).start()
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
    scheduler: Scheduler
    state: dict[str, Any] = field(default_factory=dict)

    def run_pipelines(self) -> None:
        """One pass of the scheduler (``fti scheduler --once``): what is due, and what that starts, to the end."""
        orchestration = self.project.orchestration
        for run in self.scheduler.run_once():
            lineage = orchestration.lineage(run.id)
            why = lineage.trigger_event.describe() if lineage.trigger_event else f"{run.trigger} run"
            produced = [event.describe() for event in lineage.produced if event.kind not in ("run", "alias")]
            seconds = run.duration.total_seconds() if run.duration else 0.0
            outcome = f" -> {'; '.join(produced[:4])}" if produced else ""
            self.report.note(f"pipeline {run.pipeline} ({why}): {run.state.value} in {seconds:.1f} s{outcome}")
            if run.state is not RunState.SUCCEEDED:
                last = (run.error or "").strip().splitlines()[-1:] or ["no error recorded"]
                raise BackendError(
                    f"Demo pipeline '{run.pipeline}' {run.state.value}: {last[0]} "
                    f"(see `fti pipelines logs {run.id} -p {self.folder}`)."
                )

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
                server.url, DEPLOYMENT, rows, inputs, clients=self.settings.clients, on_answer=advance, timed=True
            )
        self.state.setdefault("served", []).append(served)
        return served


def _generate(demo: _Demo) -> None:
    settings, project = demo.settings, demo.project
    data = generate_transactions(
        cards=settings.cards,
        days=settings.days + LIVE_DAYS,
        compromised_share=settings.compromised_share,
        seed=settings.seed,
    )
    first_day = data.transactions["ts"].min().floor("D").to_pydatetime()
    live_start = first_day + timedelta(days=settings.days)
    season = live_start + timedelta(days=1)
    data = travel_season(data, season, seed=settings.seed)
    data = fraud_wave(data, season + timedelta(days=1), share=settings.ab_fraud_share, seed=settings.seed)
    warmup_end = first_day + timedelta(days=WARMUP_DAYS)
    demo.state.update(data=data, live_start=live_start, season_start=season)
    project.artifacts.put_json(
        SETTINGS_KEY,
        {
            "trials": settings.trials,
            "epochs": settings.epochs,
            "seed": settings.seed,
            "warmup_end": warmup_end.isoformat(),
            "season_start": season.isoformat(),
            "challenger_share": settings.challenger_share,
        },
    )
    insert_transactions(project, data.transactions, data.cards, labelled_until=live_start)
    demo.report.note(
        f"{len(data.transactions):,} transactions of {settings.cards:,} cards over {settings.days + LIVE_DAYS} days, "
        f"{data.fraud_rate:.2%} fraud; the last {LIVE_DAYS} days are live traffic, the travel season "
        f"(injected drift) starts {season:%Y-%m-%d}, with a wave of card fraud on {season + timedelta(days=1):%Y-%m-%d}"
    )
    demo.report.note(
        f"commits of transactions and fraud_labels (labels up to {live_start:%Y-%m-%d}; later ones arrive late)"
    )


def _pipelines(demo: _Demo) -> None:
    demo.run_pipelines()
    demo.report.note(f"champion: {demo.project.get_model(CHAMPION).name}:{demo.project.get_model(CHAMPION).version}")


def _inference(demo: _Demo) -> None:
    project, state = demo.project, demo.state
    live_start: datetime = state["live_start"]
    server = ModelServer(
        demo.folder,
        log_file=demo.folder / ".fti" / "demo-server.log",
        settings={
            "refresh_seconds": "1",
            "log_flush_seconds": "0.2",
            "batching": "true",
            # the requests carry their transaction's time: the log shows the days they stand for
            "trust_request_time": "true",
        },
    )
    demo.cleanup.callback(server.stop)
    server.launch()  # it starts while the batch predictions run
    state["server"] = server
    predictions = project.batch_predict(
        CHAMPION, start=live_start - timedelta(days=1), output="fraud_predictions", show_progress=False
    )
    demo.report.note(f"batch: {predictions.rows:,} predictions for {live_start - timedelta(days=1):%Y-%m-%d}")
    demo.report.note(f"deployment '{DEPLOYMENT}': {CHAMPION} takes all traffic, sticky by card")
    # the live transactions with their features, as a client computes them at request time
    frames = {
        name: project.get_feature_group(name).read() for name in ("transactions", "card_activity", "merchant_stats")
    }
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
    # a request with the keys alone: the server reads the features from the online feature view
    keys = list(project.get_feature_view(FEATURE_VIEW).serving_keys())
    first = state["live"].iloc[0]
    state.setdefault("served", []).append(score_by_keys(server.url, DEPLOYMENT, first, keys, timed=True))
    entity = ", ".join(f"{key}={first[key]}" for key in keys)
    demo.report.note(f"a request with keys only ({entity}): features looked up in the online view '{FEATURE_VIEW}'")
    demo.stream(server, "normal day", demo.live_day(0, demo.settings.window_requests))
    demo.stream(server, "travel season, day 1", demo.live_day(1, demo.settings.window_requests))
    # the monitoring windows are the days the requests stand for (their logged times)
    state["windows"] = [live_start + timedelta(days=day) for day in range(3)]


def _monitoring(demo: _Demo) -> None:
    project, state = demo.project, demo.state
    transactions = state["data"].transactions
    wait_for_log(project, sum(len(served) for served in state["served"]))
    first_days = pd.concat(state["served"])
    labels = insert_labels(project, transactions[transactions["tx_id"].isin(first_days["tx_id"])])
    demo.report.note(f"{labels:,} late labels of the scored transactions arrived: a new fraud_labels commit")
    start, middle, end = state["windows"]
    for name, window_start, window_end in (("normal-day", start, middle), ("travel-season", middle, end)):
        params = {"window": name, "start": window_start.isoformat(), "end": window_end.isoformat()}
        project.run_pipeline("monitoring", params, wait=False)
    demo.report.note("a drift check of each window is asked for (`fti pipelines run monitoring --no-wait`)")
    demo.run_pipelines()


def _ab_day(demo: _Demo) -> None:
    project, state, settings = demo.project, demo.state, demo.settings
    server: ModelServer = state["server"]
    transactions = state["data"].transactions
    try:
        challenger = project.get_model(f"{MODEL_NAME}@challenger")
    except NotFoundError:
        demo.report.note("no alert fired: nothing was retrained")
        server.stop()
        return
    champion = project.get_model(CHAMPION)
    server.wait_for_versions(DEPLOYMENT, {champion.version, challenger.version})
    served = demo.stream(server, "travel season, day 2 (A/B)", demo.live_day(2, settings.ab_requests))
    server.stop()  # graceful: the request log is flushed
    wait_for_log(project, sum(len(part) for part in state["served"]))
    labels = log_delayed_labels(project, served, transactions)
    demo.report.note(f"{labels:,} late labels of the A/B day arrived: in the request log and fraud_labels")
    demo.run_pipelines()
    promoted = project.get_model(CHAMPION)
    if promoted.version != champion.version:
        demo.report.note(f"promoted: {promoted.name}:{promoted.version} is the champion and takes all traffic again")
    else:
        demo.report.note(
            "no significant winner: the champion stays. Both versions rank the wave's fraud (see every version on "
            "the A/B day in the summary), but a retrained model learns the season from its labels, and a time split "
            "tests on the newest days: the one labelled day of the season is its test split, not its training"
        )


def _live(demo: _Demo) -> None:
    state = demo.state
    live: pd.DataFrame = state["live"]
    start = state["live_start"] + timedelta(days=2)
    day = live[(live["ts"] >= start) & (live["ts"] < start + timedelta(days=1))].sort_values("ts", kind="stable")
    run_live_stage(
        demo.folder,
        day,
        set(pd.concat(state["served"])["tx_id"]),
        inputs=state["inputs"],
        requests=demo.settings.window_requests,
        clients=demo.settings.clients,
        cleanup=demo.cleanup,
        note=demo.report.note,
    )


Stage = Callable[[_Demo], None]

#: (name, what the user sees, the stage): each reads and adds to the shared state
_STAGES: list[tuple[str, str, Stage]] = [
    ("data", "New data: card transactions and their labels land in the feature store", _generate),
    (
        "pipelines",
        "Scheduler: feature pipeline -> training pipeline -> deployment, started by catalog events",
        _pipelines,
    ),
    ("inference", "Inference pipeline: batch predictions, fti serve, a stream of requests", _inference),
    ("monitoring", "Monitoring: drift checks; the drift alert starts retraining, a challenger", _monitoring),
    ("ab", "A/B day: the labels start the A/B analysis, a significant winner is promoted and deployed", _ab_day),
    ("live", "Live: card events through Redis, aggregates kept seconds old, fti serve scoring with them", _live),
]
