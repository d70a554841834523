"""What a classifier answers: its predictions, its class scores, or both, on every protocol.

A deployment's ``output_kind`` is the default; ``/v2`` requests pick outputs by name (the model's output
for predictions, ``proba`` for the scores) and ``/invocations`` requests by ``params`` (``output_kind``, or
MLflow's ``predict_method``). When scores are asked for, each model is called once, for its scores, and
its prediction is the class with the highest score (what scikit-learn, XGBoost and LightGBM classifiers
predict); the request log keeps that prediction.

=============== =========================== ================================= ====================================
kind            ``/v1``                     ``/v2`` outputs                   ``/invocations`` ``predictions``
=============== =========================== ================================= ====================================
``predict``     ``predictions``             the model's output, ``[n]``       ``[label, ...]``
``proba``       ``proba``, ``classes``      ``proba``, ``[n, k]``             ``[[score, ...], ...]``
``both``        all three                   both tensors                      ``[{output: label, "proba": [...]}]``
=============== =========================== ================================= ====================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from fti.core.deployments import OUTPUT_KINDS, OutputKind
from fti.errors import ValidationError
from fti.inference.ports import ServedClassifier, ServedModel

__all__ = [
    "PROBA_OUTPUT",
    "ProbaView",
    "check_output_kind",
    "invocations_kind",
    "invocations_predictions",
    "labels_of",
    "needs_proba",
    "require_classifier",
    "v1_fields",
]

PROBA_OUTPUT = "proba"
"""The name of the class-score output (the ``/v2`` tensor, the ``/v1`` field)."""
_PREDICT_METHODS = {"predict": "predict", "predict_proba": "proba"}


def needs_proba(kind: OutputKind) -> bool:
    """Whether ``kind`` answers class scores."""
    return kind != "predict"


def check_output_kind(value: Any, where: str) -> OutputKind:
    """``value`` as an output kind; 422 naming ``where`` when it is not one."""
    if value not in OUTPUT_KINDS:
        raise ValidationError(f"Field '{where}' is {value!r}: use one of {', '.join(OUTPUT_KINDS)}.")
    return cast(OutputKind, value)


def invocations_kind(params: Any, default: OutputKind) -> OutputKind:
    """The output kind an ``/invocations`` request asks for in ``params``, else ``default``.

    ``params.output_kind`` takes ``predict``, ``proba`` or ``both``; MLflow's ``params.predict_method``
    takes ``predict`` or ``predict_proba``.
    """
    if params is None:
        return default
    if not isinstance(params, Mapping):
        raise ValidationError('Field \'params\' must be an object such as {"output_kind": "proba"}.')
    if "output_kind" in params:
        return check_output_kind(params["output_kind"], "params.output_kind")
    if "predict_method" in params:
        method = params["predict_method"]
        if method not in _PREDICT_METHODS:
            raise ValidationError(
                f"Field 'params.predict_method' is {method!r}: use one of {', '.join(_PREDICT_METHODS)}."
            )
        return cast(OutputKind, _PREDICT_METHODS[method])
    return default


def require_classifier(model: ServedModel, deployment: str) -> ServedClassifier:
    """``model`` as a classifier; 422 when scores are asked of a model that gives none."""
    if not isinstance(model, ServedClassifier):
        where = f"Deployment '{deployment}'" if deployment else "The request"
        raise ValidationError(
            f"{where} asks for class scores but model '{model.name}' v{model.version} gives none (it is not a "
            "classifier with classes): ask for its predictions (output_kind='predict')."
        )
    return model


def labels_of(proba: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """Each row's class with the highest score (the first such class on a tie)."""
    labels: np.ndarray = np.asarray(classes)[np.argmax(proba, axis=1)]
    return labels


class ProbaView:
    """A classifier whose ``predict`` answers its class scores: the micro-batcher batches score calls."""

    def __init__(self, model: ServedClassifier) -> None:
        self.source = model

    @property
    def name(self) -> str:
        """The classifier's name."""
        return self.source.name

    @property
    def version(self) -> int:
        """The classifier's version."""
        return self.source.version

    @property
    def input_schema(self) -> Sequence[tuple[str, str]]:
        """The classifier's inputs."""
        return self.source.input_schema

    @property
    def output_name(self) -> str:
        """The score output's name."""
        return PROBA_OUTPUT

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The classifier's scores, ``[rows, classes]``."""
        return np.asarray(self.source.predict_proba(frame), dtype=np.float64)


def v1_fields(
    kind: OutputKind, predictions: np.ndarray, proba: np.ndarray | None, classes: Sequence[Any]
) -> dict[str, Any]:
    """The ``/v1`` answer's output fields for ``kind``."""
    fields: dict[str, Any] = {}
    if kind != "proba":
        fields["predictions"] = _plain(predictions)
    if proba is not None and needs_proba(kind):
        fields[PROBA_OUTPUT] = proba
        fields["classes"] = list(classes)
    return fields


def invocations_predictions(
    kind: OutputKind, output_name: str, predictions: np.ndarray, proba: np.ndarray | None
) -> Any:
    """MLflow's ``predictions``: labels, rows of scores, or one record per row with both."""
    if proba is None or kind == "predict":
        return _plain(predictions)
    if kind == "proba":
        return proba
    labels = _plain(predictions)
    values = labels.tolist() if isinstance(labels, np.ndarray) else labels
    return [{output_name: label, PROBA_OUTPUT: row} for label, row in zip(values, proba.tolist(), strict=True)]


def _plain(values: np.ndarray) -> Any:
    """Numeric arrays as they are (orjson writes them); labels of other types as a list."""
    return values if values.dtype.kind in "biuf" else values.tolist()
