"""The demo's stages as pipelines that the scheduler starts on catalog events (the demo's ``fti.yaml`` lists
this module under ``pipelines:``), so the closed loop runs with no script calling it:

- ``features``: a new commit of ``transactions`` -> the card and merchant window features;
- ``training``: ``features`` succeeded and there is no champion yet -> tuned XGBoost and an MLP, the better
  one becomes ``champion``;
- ``deploy``: the ``champion`` alias moved -> the deployment serves the champion, looking the features of
  key-only requests up through the online feature view ``fraud``; it answers the class and its score, and the
  request log keeps the fraud score for the A/B test;
- ``monitoring``: run by hand (``--param window=... start=... end=...``; on a schedule in production) ->
  a drift check of one window of the request log, its alerts recorded in the catalog;
- ``retraining``: a drift alert on the deployment -> retrained on every label so far, the ``challenger``
  with a share of the traffic;
- ``ab_analysis``: labels arrived (a commit of ``fraud_labels``) -> the A/B test of champion against
  challenger on average precision, which promotes a significant winner (and the alias move starts ``deploy``).

The sizes and the tuned parameters pass between pipelines as the artifact :data:`SETTINGS_KEY`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import fti
from fti.demo.feature_pipeline import build_window_features
from fti.demo.monitoring_pipeline import DEPLOYMENT, ab_test, check_window
from fti.demo.training_pipeline import (
    FEATURE_VIEW,
    MODEL_NAME,
    create_feature_view,
    retrain_boosted,
    run_training_pipeline,
)
from fti.errors import NotFoundError

__all__ = [
    "CHAMPION",
    "REPORTS_FOLDER",
    "SETTINGS_KEY",
    "ab_analysis",
    "deploy",
    "features",
    "monitoring",
    "retraining",
    "training",
]

SETTINGS_KEY = "demo/settings.json"
REPORTS_FOLDER = "reports"
CHAMPION = f"{MODEL_NAME}@champion"


def _settings(project: Any) -> dict[str, Any]:
    settings: dict[str, Any] = project.artifacts.get_json(SETTINGS_KEY)
    return settings


def _find_model(project: Any, reference: str) -> Any:
    try:
        return project.get_model(reference)
    except NotFoundError:
        return None


@fti.pipeline(triggers=[fti.on_commit("transactions")])
def features(ctx: fti.PipelineContext) -> None:
    """Card and merchant window features from every transaction so far."""
    transactions = ctx.project.get_feature_group("transactions").read()
    groups = build_window_features(ctx.project, transactions)
    ctx.logger.info("%s rows of window features from %s transactions", len(transactions), len(groups))


@fti.pipeline(triggers=[fti.on_pipeline_run("features")])
def training(ctx: fti.PipelineContext) -> None:
    """The first champion: tuned XGBoost against a PyTorch MLP (later models come from retraining)."""
    project = ctx.project
    if _find_model(project, CHAMPION) is not None:
        ctx.logger.info("%s exists: new models come from drift-triggered retraining", CHAMPION)
        return
    settings = _settings(project)
    groups = [project.get_feature_group(name) for name in ("transactions", "card_activity", "merchant_stats")]
    view = create_feature_view(project, [*groups, project.get_feature_group("fraud_labels")])
    outcome = run_training_pipeline(
        project,
        view,
        start=datetime.fromisoformat(settings["warmup_end"]),
        trials=settings["trials"],
        epochs=settings["epochs"],
        seed=settings["seed"],
    )
    for version in (outcome.boosted, outcome.mlp):
        kind = "XGBoost" if version is outcome.boosted else "MLP"
        ctx.logger.info(
            "%s:%s (%s): test ROC-AUC %.4f", version.name, version.version, kind, outcome.scores[version.version]
        )
    project.artifacts.put_json(SETTINGS_KEY, {**settings, "boosted_params": outcome.boosted_params})
    # the alias moves last: the deploy pipeline it starts finds the settings complete
    outcome.champion.set_alias("champion", reason="best test ROC-AUC of the demo's training pipeline")


@fti.pipeline(triggers=[fti.on_alias(MODEL_NAME, "champion")])
def deploy(ctx: fti.PipelineContext) -> None:
    """The deployment serves the champion, sticky by card; requests that send only keys get their features from
    the online feature view ``fraud``."""
    deployment = ctx.project.deploy(
        DEPLOYMENT, {CHAMPION: 1.0}, entity_key="cc_num:int64", feature_view=FEATURE_VIEW, output_kind="both"
    )
    ctx.logger.info("deployment '%s' serves %s, features from view '%s'", deployment.name, CHAMPION, FEATURE_VIEW)


@fti.pipeline(params={"window": "window", "start": "", "end": ""})
def monitoring(ctx: fti.PipelineContext) -> None:
    """Drift and alerts of one window of the request log (ISO ``start`` and ``end``)."""
    name = ctx.params["window"]
    start, end = datetime.fromisoformat(ctx.params["start"]), datetime.fromisoformat(ctx.params["end"])
    checked = check_window(ctx.project, name, start, end, reports=Path(ctx.project.root) / REPORTS_FOLDER)
    drifted = ", ".join(checked.result.drifted_features) or "none"
    ctx.logger.info("%s: %s requests, drifted features: %s", name, checked.result.window["rows"], drifted)
    for alert in checked.alerts:
        ctx.logger.info("alert: %s", alert.message)


@fti.pipeline(triggers=[fti.on_alert(DEPLOYMENT, "drift")])
def retraining(ctx: fti.PipelineContext) -> None:
    """A challenger trained on every label so far, with a share of the traffic. One check fires several
    alerts: a challenger newer than the first of them answers them all."""
    project = ctx.project
    challenger = _find_model(project, f"{MODEL_NAME}@challenger")
    fired = ctx.event.created_at if ctx.event is not None else None
    if challenger is not None and fired is not None and challenger.record.created_at >= fired:
        ctx.logger.info("%s:%s was trained after this alert: nothing to do", MODEL_NAME, challenger.version)
        return
    settings = _settings(project)
    retrained = project.retrain(
        DEPLOYMENT,
        lambda opened: retrain_boosted(
            opened,
            params=settings["boosted_params"],
            start=datetime.fromisoformat(settings["warmup_end"]),
            seed=settings["seed"],
        ),
        share=settings["challenger_share"],
        reason=ctx.event.describe() if ctx.event is not None else None,
    )
    ctx.logger.info("%s:%s is the challenger", retrained.name, retrained.version)


@fti.pipeline(triggers=[fti.on_commit("fraud_labels")])
def ab_analysis(ctx: fti.PipelineContext) -> None:
    """Champion against challenger on the labelled traffic; a significant winner is promoted."""
    project = ctx.project
    served = {deployment.name: deployment for deployment in project.deployments()}.get(DEPLOYMENT)
    if served is None or len(served.variants) < 2:
        ctx.logger.info("deployment '%s' has no challenger: nothing to compare", DEPLOYMENT)
        return
    report = ab_test(project, reports=Path(project.root) / REPORTS_FOLDER)
    for variant in report.variants:
        ctx.logger.info(
            "A/B %s: %s %.4f on %s labelled requests", variant.model, report.metric, variant.value, variant.rows
        )
    ctx.logger.info("promoted %s" if report.promoted else "no significant winner%s", report.promoted or "")
