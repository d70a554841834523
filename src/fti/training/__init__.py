"""The training pipeline: preprocessing, trainers, evaluation, tuning, explanations and AutoML.

Everything here works against two small ports (:mod:`fti.training.ports`): the training dataset's
splits and the run to log to.

Example:
    >>> from fti.training import space, train, tune, TrainObjective
    >>> result = train(td, "xgboost", logger=run)  # doctest: +SKIP
    >>> best = tune(TrainObjective(td, "xgboost"), {"max_depth": space.int(2, 8)})  # doctest: +SKIP
"""

from __future__ import annotations

from fti.training import space
from fti.training.automl import AutoMLResult, automl
from fti.training.evaluation import EvaluationResult, evaluate
from fti.training.explain import Explanation, explain_rows, permutation_importance, shap_importance
from fti.training.ports import NullRunLogger, RunLogger, SplitData, Splits
from fti.training.preprocessing import PreprocessingConfig
from fti.training.spec import TrainingSpec, load_spec, run_spec, tune_spec
from fti.training.trainers import TrainingResult, train
from fti.training.tuning import TrainObjective, TrialHooks, TuningResult, tune

__all__ = [
    "AutoMLResult",
    "EvaluationResult",
    "Explanation",
    "NullRunLogger",
    "PreprocessingConfig",
    "RunLogger",
    "SplitData",
    "Splits",
    "TrainObjective",
    "TrainingResult",
    "TrainingSpec",
    "TrialHooks",
    "TuningResult",
    "automl",
    "evaluate",
    "explain_rows",
    "load_spec",
    "permutation_importance",
    "run_spec",
    "shap_importance",
    "space",
    "train",
    "tune",
    "tune_spec",
]
