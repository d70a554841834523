"""Training pipeline of the fraud demo: a point-in-time feature view, a 70/15/15 time split, a tuned
gradient-boosted model and a PyTorch MLP, both registered with lineage; the better one becomes champion.

:func:`retrain_boosted` is the pipeline that automated retraining runs: the tuned XGBoost parameters on a
fresh training dataset that includes the newest labelled transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fti.training import space

if TYPE_CHECKING:
    from datetime import datetime

    import fti
    from fti.features import FeatureGroup, FeatureView
    from fti.features.training import TrainingDataset
    from fti.registry.version import ModelVersion

__all__ = [
    "FEATURE_VIEW",
    "MODEL_NAME",
    "TIME_SPLIT",
    "TrainingOutcome",
    "create_feature_view",
    "retrain_boosted",
    "run_training_pipeline",
]

MODEL_NAME = "fraud-detector"
FEATURE_VIEW = "fraud"
EXPERIMENT = "fraud"
#: training and retraining split by time: no validation or test row older than a training row
TIME_SPLIT = {"train": 0.7, "validation": 0.15, "test": 0.15}


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    """The training dataset and the two registered versions, with their test ROC-AUC and the tuned params."""

    training_data: TrainingDataset
    boosted: ModelVersion
    mlp: ModelVersion
    scores: dict[int, float]
    champion: ModelVersion
    boosted_params: dict[str, Any]


def create_feature_view(project: fti.Project, groups: list[FeatureGroup]) -> FeatureView:
    """Labels as the spine, joined point-in-time with the transaction, card and merchant features."""
    transactions, cards, merchants, labels = groups
    query = (
        labels.select(["is_fraud"])
        .join(transactions.select(["amount", "category"]))
        .join(cards.select_all(), on=["cc_num"])
        .join(merchants.select_all(), on=["merchant_id"])
    )
    existing = {view.name for view in project.feature_views()}
    if FEATURE_VIEW in existing:
        return project.get_feature_view(FEATURE_VIEW)
    return project.create_feature_view(
        FEATURE_VIEW,
        query=query,
        labels=["is_fraud"],
        description="Card fraud: transaction, card and merchant features.",
    )


def run_training_pipeline(
    project: fti.Project,
    view: FeatureView,
    *,
    start: datetime | None = None,
    trials: int = 8,
    epochs: int = 10,
    seed: int = 0,
) -> TrainingOutcome:
    """Split by time, tune XGBoost, train an MLP, register both, alias the better one ``champion``.

    ``start`` drops the earliest transactions, whose 7-day windows are not full yet (a warm-up that live
    traffic never has).
    """
    td = view.create_training_data(start=start, split=TIME_SPLIT, split_by="time", seed=seed)
    boosted = project.tune(
        td,
        "xgboost",
        {
            "max_depth": space.int(2, 6),
            "learning_rate": space.loguniform(0.03, 0.3),
            "n_estimators": space.int(50, 300),
            "scale_pos_weight": space.loguniform(1, 50),
        },
        metric="validation_roc_auc",
        direction="maximize",
        n_trials=trials,
        experiment=EXPERIMENT,
        register=MODEL_NAME,
        params={"n_jobs": 1},
        seed=seed,
    )
    mlp = project.train(
        td,
        "mlp",
        # fraud is rare: weigh the positives as much as all the negatives
        params={"epochs": epochs, "batch_size": 256, "patience": 3, "pos_weight": "balanced", "seed": seed},
        experiment=EXPERIMENT,
        run_name="mlp",
        register=MODEL_NAME,
    )
    boosted_version, mlp_version = boosted.version, mlp.version
    scores = {
        boosted_version.version: _roc_auc(dict(boosted.metrics or {})),
        mlp_version.version: _roc_auc(dict(mlp.metrics or {})),
    }
    champion = mlp_version if scores[mlp_version.version] > scores[boosted_version.version] else boosted_version
    champion.set_alias("champion", reason="best test ROC-AUC of the demo's training pipeline")
    return TrainingOutcome(td, boosted_version, mlp_version, scores, champion, dict(boosted.result.best_params))


def retrain_boosted(
    project: fti.Project, *, params: dict[str, Any], start: datetime | None = None, seed: int = 0
) -> ModelVersion:
    """Train XGBoost with ``params`` on a fresh training dataset of every labelled transaction since ``start``.

    The same 70/15/15 time split as the first training: fraud data is ordered in time, and a random split would
    test on transactions older than some the model learnt from (a card's burst in both splits), which flatters
    the test metrics. The newest labelled transactions are the test split, so the first versions' and this one's
    test metrics are both measured on the days after their training data. The new version is registered with
    its lineage and returned.
    """
    view = project.get_feature_view(FEATURE_VIEW)
    td = view.create_training_data(
        start=start,
        split=TIME_SPLIT,
        split_by="time",
        seed=seed,
        description="retraining: every labelled transaction, split by time as the first training",
    )
    trained = project.train(
        td, "xgboost", params={**params, "n_jobs": 1}, experiment=EXPERIMENT, run_name="retrained", register=MODEL_NAME
    )
    version: ModelVersion = trained.version
    return version


def _roc_auc(metrics: dict[str, float]) -> float:
    # a tiny test split may hold no fraud at all; ROC-AUC is then undefined there
    return metrics.get("test_roc_auc", metrics.get("validation_roc_auc", float("nan")))
