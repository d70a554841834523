"""The declarative training pipeline: a YAML file naming the data, preprocessing, model, metrics and tuning.

Example ``train.yaml``::

    feature_view: {name: fraud, version: 1}
    training_dataset: 2            # optional: reuse this version instead of creating one
    model_name: fraud-detector     # optional: the registered name (default: the feature view's)
    split: {train: 0.7, validation: 0.15, test: 0.15, by: time}
    preprocessing: {scaling: standard, encoding: onehot}
    model:
      type: xgboost
      params: {max_depth: 4}
    metrics: [test_f1, test_roc_auc]
    tuning:
      n_trials: 20
      space:
        max_depth: {int: [2, 8]}
        learning_rate: {loguniform: [0.01, 0.3]}

:func:`load_spec` validates the file (every problem names its field); :func:`run_spec` trains from it and
:func:`tune_spec` tunes from it, given the training dataset's splits and the run to log to.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidatorFunctionWrapHandler, field_validator, model_validator

from fti.errors import NotFoundError, ValidationError
from fti.training import space
from fti.training.evaluation import metric_names
from fti.training.ports import NullRunLogger, RunLogger, SplitData
from fti.training.preprocessing import PreprocessingConfig
from fti.training.space import Distribution
from fti.training.study import StudyStorage, TrialLoggerFactory, TuningResult, TuningSpec
from fti.training.tasks import Task, validate_task
from fti.training.tracked import ModelRecipe, RunSettings
from fti.training.trainers import TrainingResult, train
from fti.training.tuning import TrainObjective, tune

if TYPE_CHECKING:
    from fti.backends.ports import Executor

__all__ = [
    "FeatureViewSpec",
    "ModelSpec",
    "SplitSpec",
    "TrainingSpec",
    "load_spec",
    "run_spec",
    "tune_spec",
]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureViewSpec(_Spec):
    """The feature view (and version) whose training data the model learns from."""

    name: str
    version: int = Field(ge=1)


class SplitSpec(_Spec):
    """Fractions of the rows per split, and how rows are assigned (at random or by event time)."""

    train: float = Field(gt=0, le=1)
    validation: float = Field(default=0.0, ge=0, lt=1)
    test: float = Field(default=0.0, ge=0, lt=1)
    by: Literal["random", "time"] = "random"
    seed: int = 0

    @model_validator(mode="after")
    def _fractions_add_up(self) -> SplitSpec:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self


class ModelSpec(_Spec):
    """A model family by name (see ``fti.training.estimators.MODEL_TYPES``) and its params."""

    type: str
    params: dict[str, Any] = {}


class TrainingSpec(_Spec):
    """Everything ``fti train`` / ``fti tune`` need, as read from YAML."""

    feature_view: FeatureViewSpec
    split: SplitSpec = SplitSpec(train=0.8, test=0.2)
    task: Task | None = None
    preprocessing: PreprocessingConfig = PreprocessingConfig()
    model: ModelSpec
    metrics: list[str] = []
    #: the search ``fti tune`` runs: TuningSpec's options, with ``space`` as ``name: {int: [2, 8]}`` entries
    tuning: TuningSpec | None = None
    #: the registered model's name; the feature view's name when None
    model_name: str | None = None
    #: reuse this training dataset version of the feature view instead of creating a new one
    training_dataset: int | None = Field(default=None, ge=1)
    #: the runs' experiment; the model's name when None
    experiment: str | None = None

    @field_validator("tuning", mode="wrap")
    @classmethod
    def _search(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """The YAML space (``name: {loguniform: [low, high]}``) as distributions; the options as TuningSpec
        checks them, its refusals named as the ``tuning`` section's."""
        if isinstance(value, dict) and isinstance(value.get("space"), dict):
            value = {**value, "space": _space(value["space"])}
        try:
            return handler(value)
        except ValidationError as exc:
            raise ValidationError(f"tuning: {exc}") from exc

    def model_recipe(self) -> ModelRecipe:
        """What to train, as the tracked training service takes it."""
        return ModelRecipe(self.model.type, self.task, dict(self.model.params), self.preprocessing)

    def run_settings(self) -> RunSettings:
        """Where the runs are logged and what is registered."""
        return RunSettings(self.experiment, register=self.registered_name)

    def split_fractions(self) -> dict[str, float]:
        """The split as ``fv.create_training_data(split=...)`` takes it (empty splits left out)."""
        fractions = {"train": self.split.train, "validation": self.split.validation, "test": self.split.test}
        return {name: value for name, value in fractions.items() if value > 0}

    @property
    def registered_name(self) -> str:
        """The name the trained model is registered under."""
        return self.model_name or self.feature_view.name


def load_spec(path: str | Path) -> TrainingSpec:
    """Read and validate a training spec from a YAML file."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"Training spec '{file}' does not exist. Check the path.")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(f"Training spec '{file}' is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValidationError(f"Training spec '{file}' must be a mapping with feature_view, model, ...; got {raw!r}.")
    try:
        return TrainingSpec.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValidationError(f"Training spec '{file}' is invalid: {problems}.") from exc
    except ValidationError as exc:  # a search space or tuning option the domain refused
        raise ValidationError(f"Training spec '{file}' is invalid: {exc}") from exc


def run_spec(spec: TrainingSpec, data: SplitData, logger: RunLogger | None = None) -> TrainingResult:
    """Train the spec's model on ``data``, log it to ``logger``, and check the spec's metrics were computed."""
    task = validate_task(spec.task, data.train[1])
    _check_metrics(spec.metrics, task, data)
    run = logger or NullRunLogger()
    run.set_tag("feature_view", f"{spec.feature_view.name}:{spec.feature_view.version}")
    return train(
        data, spec.model.type, task=task, params=spec.model.params, preprocessing=spec.preprocessing, logger=run
    )


def tune_spec(
    spec: TrainingSpec,
    data: SplitData,
    *,
    trial_logger: TrialLoggerFactory | None = None,
    storage_dir: str | Path | None = None,
    executor: Executor | None = None,
) -> TuningResult:
    """Tune the spec's model over its ``tuning`` section on ``data`` (parallel workers run on ``executor``)."""
    if spec.tuning is None:
        raise ValidationError("The training spec has no 'tuning' section: add one with a 'space' to tune over.")
    task = validate_task(spec.task, data.train[1])
    if spec.tuning.metric is not None:
        _check_metrics([spec.tuning.metric], task, data)
    objective = TrainObjective(data, spec.model.type, task, spec.model.params, spec.preprocessing)
    folder = None if storage_dir is None else Path(storage_dir)
    storage = StudyStorage(spec.feature_view.name, folder)
    return tune(objective, spec.tuning, storage=storage, trial_logger=trial_logger, executor=executor)


def _space(entries: dict[str, Any]) -> dict[str, Distribution]:
    found: dict[str, Distribution] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict) or len(entry) != 1:
            kinds = sorted(entry) if isinstance(entry, dict) else entry
            raise ValidationError(
                f"tuning.space.{name} needs exactly one of uniform, loguniform, int, choice; got {kinds or 'none'}."
            )
        kind, values = next(iter(entry.items()))
        if kind not in ("uniform", "loguniform", "int", "choice") or not isinstance(values, list):
            raise ValidationError(
                f"tuning.space.{name} needs one of uniform, loguniform, int, choice with a list; got {entry}."
            )
        found[name] = _distribution(f"tuning.space.{name}", kind, values)
    return found


def _distribution(field: str, kind: str, values: list[Any]) -> Distribution:
    try:
        if kind == "choice":
            return space.choice(values)
        if kind == "int":
            low, high, *step = values
            return space.int(low, high, step=step[0] if step else 1)
        low, high = values
        return space.uniform(low, high) if kind == "uniform" else space.loguniform(low, high)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{field}: {kind} takes [low, high]" + (", step" if kind == "int" else "") + f"; got {values}."
        ) from exc
    except ValidationError as exc:
        raise ValidationError(f"{field}: {exc}") from exc


def _check_metrics(metrics: list[str], task: Task, data: SplitData) -> None:
    splits = [name for name in ("validation", "test") if getattr(data, name) is not None]
    known = {f"{split}_{name}" for split in splits for name in metric_names(task)}
    unknown = [metric for metric in metrics if metric not in known]
    if unknown:
        raise ValidationError(
            f"Metric(s) {unknown} are not computed for a {task} task on splits {splits}. "
            f"Use some of: {', '.join(sorted(known))}."
        )
