"""Trainers: fit a preprocessing pipeline and a model on the training split, evaluate, log to the run.

One entry point, :func:`train`, covers any scikit-learn-compatible estimator, XGBoost, LightGBM and the
PyTorch MLP. Iterative models (boosting rounds, MLP epochs) stop early on the validation split and report
each iteration's validation loss to ``on_iteration`` (tuning uses it to prune trials).

Example:
    >>> result = train(td, "xgboost", params={"max_depth": 3}, logger=run)  # doctest: +SKIP
    >>> result.metrics["test_f1"]  # doctest: +SKIP
    0.96
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from fti.errors import ValidationError
from fti.training.estimators import EncodedLabelClassifier, default_params, make_estimator
from fti.training.evaluation import evaluate
from fti.training.ports import Dataset, IterationCallback, NullRunLogger, RunLogger, SplitData
from fti.training.preprocessing import PreprocessingConfig, build_preprocessor
from fti.training.tasks import Task, validate_task

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = ["IterationCallback", "TrainingResult", "train"]

_EARLY_STOPPING_ROUNDS = 20


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """A trained model (preprocessing included) with its held-out metrics and the params it was trained with."""

    model: Pipeline
    metrics: dict[str, float]
    params: dict[str, Any]
    task: Task
    model_type: str
    #: per-epoch losses for iterative models that record them (the MLP)
    history: tuple[dict[str, float], ...] = field(default=())


def train(
    data: SplitData,
    model: str | Any,
    *,
    task: str | None = None,
    params: Mapping[str, Any] | None = None,
    preprocessing: PreprocessingConfig | None = None,
    logger: RunLogger | None = None,
    on_iteration: IterationCallback | None = None,
    figures: bool = True,
    executor: Callable[[], Executor] | None = None,
) -> TrainingResult:
    """Fit preprocessing and a model on the training split, evaluate it on validation and test, log it all.

    Args:
        data: the training dataset's splits.
        model: a model type name (see :data:`fti.training.estimators.MODEL_TYPES`: ``"logistic_regression"``,
            ``"random_forest"``, ``"xgboost"``, ``"lightgbm"``, ``"mlp"``, ...) or any unfitted
            scikit-learn-compatible estimator (it is cloned, never fitted in place).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the target when None.
        params: the model's params, over the family's defaults. For XGBoost and LightGBM,
            ``early_stopping_rounds`` (default 20) applies when there is a validation split.
        preprocessing: imputation, scaling and encoding; standard scaling and one-hot encoding by default.
        logger: the run to log params, step metrics, metrics and figures to.
        on_iteration: called with each iteration's validation loss (iterative models only).
        figures: draw and log the evaluation figures (confusion matrix, ROC and PR curves, residuals).
        executor: returns the executor an MLP with ``workers`` > 1 trains on, data-parallel
            (:mod:`fti.training.distributed_torch`); called only then.

    Returns:
        The fitted pipeline (preprocessing then model), its metrics (``validation_*``, ``test_*``) and params.
    """
    X, y = data.train
    resolved = validate_task(task, y)
    run = logger or NullRunLogger()
    chosen = dict(params or {})
    early_stopping = int(chosen.pop("early_stopping_rounds", _EARLY_STOPPING_ROUNDS))
    if isinstance(model, str):
        model_type, estimator = model, make_estimator(model, resolved, chosen)
    else:
        model_type, estimator = type(model).__name__, clone(model).set_params(**chosen)
    config = preprocessing or PreprocessingConfig()
    logged = {"model": model_type, "task": resolved, **default_params(estimator), **chosen}
    logged |= {f"preprocessing.{key}": str(value) for key, value in config.model_dump().items()}
    run.log_params(logged)
    run.set_tag("model_type", model_type)

    preprocessor = build_preprocessor(config, X)
    features = preprocessor.fit_transform(X, y)  # fitted on the training split only
    validation = _transformed(preprocessor, data.validation)
    if getattr(estimator, "workers", 1) > 1 and hasattr(estimator, "fit_network"):
        history = _fit_distributed(estimator, features, y, validation, run, executor)
    else:
        history = _fit(estimator, features, y, validation, run, on_iteration, early_stopping)
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])

    metrics: dict[str, float] = {}
    for name, split in (("validation", data.validation), ("test", data.test)):
        if split is not None:
            metrics |= evaluate(pipeline, split, resolved, run, prefix=f"{name}_", figures=figures).metrics
    return TrainingResult(pipeline, metrics, logged, resolved, model_type, history)


def _transformed(preprocessor: Any, split: Dataset | None) -> tuple[Any, Any] | None:
    if split is None:
        return None
    X, y = split
    return preprocessor.transform(X), y


def _fit(
    estimator: Any,
    features: Any,
    y: Any,
    validation: tuple[Any, Any] | None,
    run: RunLogger,
    on_iteration: IterationCallback | None,
    early_stopping: int,
) -> tuple[dict[str, float], ...]:
    """Fit ``estimator`` with the validation split wired in the way its family understands."""
    module = type(getattr(estimator, "estimator", estimator)).__module__
    if hasattr(estimator, "fit_network"):
        return tuple(estimator.fit_network(features, y, validation=validation, logger=run, on_iteration=on_iteration))
    if module.startswith("xgboost"):
        _fit_xgboost(estimator, features, y, validation, on_iteration, early_stopping)
    elif module.startswith("lightgbm"):
        _fit_lightgbm(estimator, features, y, validation, on_iteration, early_stopping)
    else:
        estimator.fit(features, y)
    return ()


def _fit_distributed(
    estimator: Any,
    features: Any,
    y: Any,
    validation: tuple[Any, Any] | None,
    run: RunLogger,
    executor: Callable[[], Executor] | None,
) -> tuple[dict[str, float], ...]:
    if executor is None:
        raise ValidationError(
            f"The MLP with workers={estimator.workers} trains on that many executor workers, and none was given: "
            "train it with project.train (the project's executor), pass executor=, or set workers=1."
        )
    from fti.training.distributed_torch import fit_distributed

    return tuple(fit_distributed(estimator, features, y, validation, executor(), run))


def _fit_xgboost(
    estimator: Any,
    features: Any,
    y: Any,
    validation: tuple[Any, Any] | None,
    on_iteration: IterationCallback | None,
    early_stopping: int,
) -> None:
    inner = estimator.estimator if isinstance(estimator, EncodedLabelClassifier) else estimator
    if validation is None:
        estimator.fit(features, y)
        return
    callbacks = [_xgboost_reporter(on_iteration)] if on_iteration is not None else None
    inner.set_params(early_stopping_rounds=early_stopping, callbacks=callbacks)
    try:
        estimator.fit(features, y, eval_set=[validation], verbose=False)
    finally:
        inner.set_params(callbacks=None)  # the reporter holds the trial: keep it out of the saved model


def _xgboost_reporter(on_iteration: IterationCallback) -> Any:
    from xgboost.callback import TrainingCallback

    class _Reporter(TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            history = next(iter(evals_log.values()))
            on_iteration(epoch, float(next(iter(history.values()))[-1]))
            return False

    return _Reporter()


def _fit_lightgbm(
    estimator: Any,
    features: Any,
    y: Any,
    validation: tuple[Any, Any] | None,
    on_iteration: IterationCallback | None,
    early_stopping: int,
) -> None:
    import lightgbm

    if validation is None:
        estimator.fit(features, y)
        return
    callbacks: list[Any] = [lightgbm.early_stopping(early_stopping, verbose=False)]
    if on_iteration is not None:
        report = on_iteration

        def _reporter(env: Any) -> None:
            report(int(env.iteration), float(env.evaluation_result_list[0][2]))

        callbacks.append(_reporter)
    held_out_X, held_out_y = validation[0], np.asarray(validation[1])
    if "eval_X" in inspect.signature(estimator.fit).parameters:  # LightGBM >= 4.7 deprecates eval_set
        estimator.fit(features, np.asarray(y), eval_X=(held_out_X,), eval_y=(held_out_y,), callbacks=callbacks)
    else:
        estimator.fit(features, np.asarray(y), eval_set=[(held_out_X, held_out_y)], callbacks=callbacks)
