"""A small project for the dashboard tests: feature groups with commits (one with ids and a heavy tail), a
view, a training dataset, 20 runs with params, stepped metrics and a figure, a tuning run with 30 params and
three trials under it, a model with two versions whose aliases moved, and an A/B
deployment with a day of logged requests (the last hours shifted), a shadow, and labels; a second
deployment whose split changed after it logged requests."""

from __future__ import annotations

import contextlib
import dataclasses

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import fti
from fti.inference_log.writer import LogRecord, to_table
from fti.monitoring import DriftConfig
from fti.monitoring.alerts import DriftShareRule

RUNS = 20
TUNING_PARAMS = 30
TUNING_TRIALS = 3
PAYMENTS = 500
MOVED_THRESHOLD = 0.345
MOVED_BEFORE = 6
MOVED_AFTER = 4
LOG_START = pd.Timestamp("2026-01-05", tz="UTC")
REQUESTS = 480
SHIFTED_FROM = 360
STORED_REPORT = "20260106T000000000000Z"
STORED_AB_REPORT = "ab"


def populate(project: fti.Project) -> dict[str, str]:
    """Fill ``project``; returns ids worth opening: ``best_run``, ``other_run``, ``model_run``."""
    rng = np.random.default_rng(0)
    rows = 80
    ts = pd.to_datetime("2026-01-01", utc=True) + pd.to_timedelta(np.arange(rows), unit="h")
    cards = project.create_feature_group(
        "card_activity",
        primary_key=["cc_num"],
        event_time="ts",
        description="Card spending aggregates",
        tags={"team": "fraud"},
    )
    labels = project.create_feature_group("fraud_labels", primary_key=["cc_num"], event_time="ts")
    frame = pd.DataFrame(
        {
            "cc_num": np.arange(rows) % 8,
            "ts": ts,
            "amount_avg": rng.normal(50, 10, rows),
            "merchant": np.where(np.arange(rows) % 3 == 0, "grocery", "travel"),
        }
    )
    cards.insert(frame.iloc[:40])
    # the second commit comes from a file source, so the dashboard shows a commit's lineage
    later = project.root / "card_activity_later.parquet"
    frame.iloc[40:].to_parquet(later, index=False)
    cards.insert(fti.sources.parquet(str(later)), pipeline="card_features")
    labels.insert(
        pd.DataFrame(
            {"cc_num": np.arange(rows) % 8, "ts": ts + pd.Timedelta(minutes=5), "is_fraud": np.arange(rows) % 4 == 0}
        )
    )
    log_payments(project, rng)
    view = project.create_feature_view(
        "fraud",
        query=labels.select(["is_fraud"]).join(cards.select(["amount_avg"])),
        labels=["is_fraud"],
        description="Fraud training features",
    )
    td = view.create_training_data(split={"train": 0.8, "test": 0.2}, split_by="time")
    ids: dict[str, str] = {}
    best = -1.0
    for index in range(RUNS):
        model_kind = "xgb" if index % 2 else "logreg"
        with project.start_run("fraud", f"trial-{index:02d}", training_data=td, tags={"team": "fraud"}) as run:
            run.log_params(
                {"model": model_kind, "max_depth": 3 + index % 4, "learning_rate": round(0.05 * (1 + index % 3), 3)}
            )
            for step in range(5):
                run.log_metric("loss", 1.0 / (step + 1 + index * 0.1), step=step)
            f1 = round(0.6 + 0.015 * index, 4)
            run.log_metric("f1", f1)
            if index == 0:
                figure, axes = plt.subplots(figsize=(4, 3))
                axes.plot([0, 1, 2], [0.2, 0.6, 0.9])
                axes.set_title("ROC")
                run.log_figure(figure, "roc.png")
                plt.close(figure)
                # named so that it sorts before roc.png: the page still shows the ROC curve first
                figure, axes = plt.subplots(figsize=(4, 3))
                axes.bar(["a", "b"], [1, 2])
                run.log_figure(figure, "importance.png")
                plt.close(figure)
                run.log_dict({"threshold": 0.5}, "config/threshold.json")
        if f1 > best:
            best, ids["best_run"] = f1, run.id
        if index == 3:
            ids["other_run"] = run.id
    log_tuning(project)
    X_train, y_train = td.train
    for index in range(2):
        with project.start_run("fraud", f"model-{index + 1}", training_data=td) as run:
            run.log_params({"model": "logreg", "C": 1.0 + index})
            run.log_metric("f1", 0.7 + 0.1 * index)
            # as many metrics as an evaluation logs: the model page must not grow off the right edge
            run.log_metrics({f"validation_metric_{key:02d}": 0.5 + 0.01 * key + 0.1 * index for key in range(30)})
            version = run.log_model(LogisticRegression(C=1.0 + index).fit(X_train, y_train), "fraud-detector")
            ids["model_run"] = run.id
        version.set_alias("challenger" if index == 0 else "champion")
    project.get_model("fraud-detector:1").set_alias("champion")
    project.get_model("fraud-detector:2").set_alias("champion", reason="better f1")
    log_deployment(project)
    return ids


def log_payments(project: fti.Project, rng: np.random.Generator) -> None:
    """``payments``: keyed by ``tx_id``, with a card id and a heavy-tailed amount (lognormal, one huge payment)."""
    payments = project.create_feature_group("payments", primary_key=["tx_id"], event_time="ts")
    count = PAYMENTS
    amounts = rng.lognormal(3, 1, count)
    amounts[-1] = 50_000.0
    payments.insert(
        pd.DataFrame(
            {
                "tx_id": np.arange(count) + 10_000,
                "cc_num": 4_000_000_000_000_000 + np.arange(count) % 50,
                "amount": amounts,
                "ts": pd.to_datetime("2026-01-01", utc=True) + pd.to_timedelta(np.arange(count), unit="min"),
            }
        )
    )


def log_tuning(project: fti.Project) -> None:
    """A tuning search in experiment ``tuning``: a parent run with many params and three trials under it; and a
    run that failed, in experiment ``broken``."""
    with contextlib.suppress(RuntimeError), project.start_run("broken", "crashed"):
        raise RuntimeError("out of memory on purpose")
    with project.start_run("tuning", "search") as parent:
        parent.log_params({f"p{index:02d}": index for index in range(TUNING_PARAMS)})
        parent.log_metric("roc_auc", 0.912345678)
    for index in range(TUNING_TRIALS):
        with project.start_run("tuning", f"search-trial-{index}", parent=parent) as trial:
            trial.log_params({"p00": index})
            trial.log_metric("roc_auc", 0.8 + 0.01 * index)


def log_moved_deployment(project: fti.Project, frame: pd.DataFrame, answers: np.ndarray) -> None:
    """Deploy ``moved``: v1 served ``MOVED_BEFORE`` requests, then the split changed to the champion alone,
    which served ``MOVED_AFTER``; the log keeps both, every request labelled with its answer; its A/B report
    and a drift report checked with threshold ``MOVED_THRESHOLD`` are stored."""
    project.deploy("moved", "fraud-detector:1")
    # sticky on cc_num: the log keeps the key beside the features, by design (not a data-quality finding)
    project.deploy("moved", "fraud-detector@champion", entity_key="cc_num")
    records = []
    for index in range(MOVED_BEFORE + MOVED_AFTER):
        variant, version = ("fraud-detector:1", 1) if index < MOVED_BEFORE else ("fraud-detector@champion", 2)
        moment = (LOG_START + pd.Timedelta(minutes=10 * index)).to_pydatetime()
        row = frame.iloc[[index]].reset_index(drop=True).assign(cc_num=index % 3)
        records.append(
            LogRecord(
                f"moved-{index:04d}",
                moment,
                "moved",
                variant,
                "fraud-detector",
                version,
                row,
                answers[[index]],
                5.0,
                False,
            )
        )
    project.inference_log.write(to_table(records))
    # every answer right: accuracy 1, where the sample size for a 5-point move can only be sized downwards
    count = MOVED_BEFORE + MOVED_AFTER
    project.log_labels(
        "moved", pd.DataFrame({"request_id": [f"moved-{i:04d}" for i in range(count)], "label": answers[:count]})
    )
    # a drift report checked with rules of its own (threshold 0.345): the live page must decide with them too
    checked = project.monitor("moved", start=LOG_START.to_pydatetime(), config=DriftConfig(threshold=MOVED_THRESHOLD))
    checked.save(prefix=f"monitoring/reports/moved/{STORED_REPORT}")
    # an A/B pipeline that decides on the error rate: the dashboard's A/B analysis starts from that metric
    project.artifacts.put_json(
        f"monitoring/reports/moved/{STORED_AB_REPORT}/report.json",
        project.ab_report("moved", metric="error_rate").to_dict(),
    )


def log_deployment(project: fti.Project) -> None:
    """Deploy ``fraud`` (champion 80%, challenger 20%, v1 as shadow) and log a day of single-row requests:
    ``amount_avg`` is shifted up for the last quarter, every request is labelled."""
    project.deploy(
        "fraud", {"fraud-detector@champion": 0.8, "fraud-detector@challenger": 0.2}, shadow="fraud-detector:1"
    )
    rng = np.random.default_rng(1)
    amounts = rng.normal(50, 10, REQUESTS)
    amounts[SHIFTED_FROM:] += 40
    frame = pd.DataFrame({"amount_avg": amounts})
    champion, challenger = project.get_model("fraud-detector:2"), project.get_model("fraud-detector:1")
    answers = {2: np.asarray(champion.predict(frame), np.float64), 1: np.asarray(challenger.predict(frame), np.float64)}
    stamps = LOG_START + pd.to_timedelta(np.arange(REQUESTS) * 3, unit="min")
    is_challenger = rng.random(REQUESTS) < 0.2
    records = []
    for index in range(REQUESTS):
        version = 1 if is_challenger[index] else 2
        variant = "fraud-detector@challenger" if version == 1 else "fraud-detector@champion"
        row = frame.iloc[[index]].reset_index(drop=True)
        moment = stamps[index].to_pydatetime()
        latency = float(4 + 3 * version + rng.gamma(2.0, 2.0))
        request_id = f"req-{index:04d}"
        records.append(
            LogRecord(
                request_id,
                moment,
                "fraud",
                variant,
                "fraud-detector",
                version,
                row,
                answers[version][[index]],
                latency,
                False,
            )
        )
        records.append(
            LogRecord(
                request_id,
                moment,
                "fraud",
                "fraud-detector:1",
                "fraud-detector",
                1,
                row,
                answers[1][[index]],
                latency + 2,
                True,
            )
        )
    project.inference_log.write(to_table(records))
    log_moved_deployment(project, frame, answers[1])
    labels = (amounts > 55).astype(np.float64)
    project.log_labels(
        "fraud", pd.DataFrame({"request_id": [f"req-{i:04d}" for i in range(REQUESTS)], "label": labels})
    )
    result = project.monitor("fraud", start=stamps[SHIFTED_FROM].to_pydatetime())
    fired = project.check_alerts("fraud", [DriftShareRule(0.5)], result=result)
    dataclasses.replace(result, alerts=tuple(fired)).save(prefix=f"monitoring/reports/fraud/{STORED_REPORT}")
