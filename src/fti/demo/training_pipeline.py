"""Training pipeline of the fraud demo: a point-in-time feature view, a 70/15/15 time split, a tuned
gradient-boosted model and a PyTorch MLP, both registered with lineage; the better one becomes champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fti.training import space
from fti.training.trainers import train
from fti.training.tuning import TrainObjective, tune

if TYPE_CHECKING:
    import fti
    from fti.features import FeatureGroup, FeatureView
    from fti.features.training import TrainingDataset
    from fti.registry.version import ModelVersion

__all__ = ["MODEL_NAME", "TrainingOutcome", "create_feature_view", "run_training_pipeline"]

MODEL_NAME = "fraud-detector"
EXPERIMENT = "fraud"


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    """The training dataset and the two registered versions, with their test ROC-AUC."""

    training_data: TrainingDataset
    boosted: ModelVersion
    mlp: ModelVersion
    scores: dict[int, float]
    champion: ModelVersion


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
    if "fraud" in existing:
        return project.get_feature_view("fraud")
    return project.create_feature_view(
        "fraud", query=query, labels=["is_fraud"], description="Card fraud: transaction, card and merchant features."
    )


def run_training_pipeline(
    project: fti.Project, view: FeatureView, *, trials: int = 8, epochs: int = 10, seed: int = 0
) -> TrainingOutcome:
    """Split by time, tune XGBoost, train an MLP, register both, alias the better one ``champion``."""
    td = view.create_training_data(split={"train": 0.7, "validation": 0.15, "test": 0.15}, split_by="time", seed=seed)
    with project.start_run(EXPERIMENT, "xgboost-study", training_data=td) as study:
        tuned = tune(
            TrainObjective(td, "xgboost", params={"n_jobs": 1}),
            {
                "max_depth": space.int(2, 6),
                "learning_rate": space.loguniform(0.03, 0.3),
                "n_estimators": space.int(50, 300),
                "scale_pos_weight": space.loguniform(1, 50),
            },
            metric="validation_roc_auc",
            direction="maximize",
            n_trials=trials,
            trial_logger=lambda number: project.start_run(EXPERIMENT, f"xgboost-trial-{number}", parent=study),  # type: ignore[arg-type,return-value]
            seed=seed,
        )
        study.log_params({f"best.{key}": value for key, value in tuned.best_params.items()})
        final = train(td, "xgboost", params={**tuned.best_params, "n_jobs": 1}, logger=study)  # type: ignore[arg-type]
        boosted = study.log_model(final.model, MODEL_NAME, description="XGBoost tuned with a small Optuna study")
    with project.start_run(EXPERIMENT, "mlp", training_data=td) as run:
        mlp_params = {"epochs": epochs, "batch_size": 1024, "patience": 3, "seed": seed}
        result = train(td, "mlp", params=mlp_params, logger=run)  # type: ignore[arg-type]
        mlp = run.log_model(result.model, MODEL_NAME, description="PyTorch MLP (two ReLU layers)")
    scores = {boosted.version: _roc_auc(final.metrics), mlp.version: _roc_auc(result.metrics)}
    champion = mlp if scores[mlp.version] > scores[boosted.version] else boosted
    champion.set_alias("champion", reason="best test ROC-AUC of the demo's training pipeline")
    return TrainingOutcome(td, boosted, mlp, scores, champion)


def _roc_auc(metrics: dict[str, float]) -> float:
    # a tiny test split may hold no fraud at all; ROC-AUC is then undefined there
    return metrics.get("test_roc_auc", metrics.get("validation_roc_auc", float("nan")))
