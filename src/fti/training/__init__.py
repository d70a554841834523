"""The training pipeline: preprocessing, trainers, evaluation, tuning, explanations and AutoML.

Example:
    >>> from fti.training import train
    >>> result = train(td, "xgboost", logger=run)  # doctest: +SKIP
"""

from __future__ import annotations

from fti.training import space
from fti.training.evaluation import EvaluationResult, evaluate
from fti.training.ports import NullRunLogger, RunLogger, SplitData, Splits
from fti.training.preprocessing import PreprocessingConfig
from fti.training.trainers import TrainingResult, train

__all__ = [
    "EvaluationResult",
    "NullRunLogger",
    "PreprocessingConfig",
    "RunLogger",
    "SplitData",
    "Splits",
    "TrainingResult",
    "evaluate",
    "space",
    "train",
]
