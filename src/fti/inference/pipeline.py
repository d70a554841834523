"""One prediction request through a deployment: preprocess, route, predict, shadow, log, postprocess, count.

Rows are split by variant (vectorized), each variant's rows go to its model (through its micro-batcher
when batching is on), and the answers are put back in request order. When class scores are asked for,
each model is called for its scores and its prediction is the class scoring highest (``outputs``). The
shadow model gets a copy of the rows in a background task after the answer is ready; its predictions
are logged, never returned. The deployment's preprocessing runs first (the log keeps the models'
inputs), its postprocessing last (the log keeps the models' predictions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import numpy as np
import pandas as pd

from fti.core.deployments import OutputKind
from fti.errors import ValidationError
from fti.inference.admission import check_request
from fti.inference.batching import BatchingConfig, MicroBatcher
from fti.inference.hooks import run_postprocess, run_preprocess
from fti.inference.live import LoadedDeployment, ModelTable
from fti.inference.metrics import ServerMetrics
from fti.inference.outputs import ProbaView, labels_of, needs_proba, require_classifier
from fti.inference.ports import ServedClassifier, ServedModel
from fti.inference_log.writer import LogRecord, RequestLogger

__all__ = ["Prediction", "Predictor"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prediction:
    """The answer to one request: a prediction, model name and model version per row (and class scores)."""

    request_id: str
    deployment: str
    predictions: np.ndarray
    model_names: list[str]
    model_versions: np.ndarray
    output_name: str
    #: the models that answered (one per variant that got rows)
    models: tuple[ServedModel, ...]
    #: ``[rows, classes]`` class scores when they were asked for, else None
    proba: np.ndarray | None = None
    classes: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class _Answer:
    predictions: np.ndarray
    proba: np.ndarray | None = None
    classes: tuple[object, ...] = ()


class Predictor:
    """Runs requests through loaded deployments or directly addressed models.

    Args:
        table: the loaded deployments and models.
        logger: the request log.
        metrics: the server's metrics.
        batching: micro-batching settings.
    """

    def __init__(
        self, table: ModelTable, logger: RequestLogger, metrics: ServerMetrics, batching: BatchingConfig
    ) -> None:
        self._table = table
        self._logger = logger
        self._metrics = metrics
        self._batching = batching
        # by the served model object (an ensemble's first member may also be served alone) and scores or not
        self._batchers: dict[tuple[int, bool], MicroBatcher] = {}
        self._shadow_tasks: set[asyncio.Task[None]] = set()

    async def predict_deployment(
        self,
        loaded: LoadedDeployment,
        frame: pd.DataFrame,
        keys: pd.DataFrame | None,
        request_id: str,
        started: float,
        kind: OutputKind | None = None,
        *,
        row_request_ids: np.ndarray | None = None,
        logged_at: datetime | None = None,
    ) -> Prediction:
        """Predict ``frame`` through ``loaded``'s traffic split; ``keys`` pins rows to variants.

        ``kind`` overrides the deployment's ``output_kind`` (a request's choice of outputs); ``row_request_ids``
        logs each row as its own request (events scored together) instead of all under ``request_id``;
        ``logged_at`` is the time the request log records (default: now).
        """
        deployment = loaded.deployment
        proba = needs_proba(kind or deployment.output_kind)
        if loaded.preprocess is not None:
            frame = run_preprocess(loaded.preprocess, frame, deployment.name)
        served = loaded.models if loaded.shadow is None else (*loaded.models, loaded.shadow)
        check_request(deployment, served, frame, keys)
        assignment = loaded.router.assign(keys, len(frame)) if len(loaded.models) > 1 else None
        variants = np.unique(assignment) if assignment is not None else np.zeros(1, dtype=np.intp)
        parts: list[np.ndarray | None] = [None]
        if assignment is not None and len(variants) > 1:
            parts = [np.flatnonzero(assignment == index) for index in variants]
        # The log keeps the entity keys with the features (monitoring joins labels on them); models get
        # only the columns they read.
        logged = _with_keys(frame, keys)
        requested = [logged if rows is None else logged.iloc[rows] for rows in parts]
        # the routing keys, and the keys an entity request looked its features up with
        key_columns = _key_columns(deployment.entity_keys, keys)
        inputs = [
            _model_inputs(loaded.models[index], part, key_columns)
            for index, part in zip(variants, requested, strict=True)
        ]
        answers = await asyncio.gather(
            *(
                self._answer(loaded.models[index], part, proba, deployment.name)
                for index, part in zip(variants, inputs, strict=True)
            )
        )
        predictions, scores = _merged(answers, len(frame), parts, deployment.name)
        versions = np.empty(len(frame), dtype=np.int64)
        names = np.empty(len(frame), dtype=object)
        latency_ms = (time.perf_counter() - started) * 1000
        now = logged_at or datetime.now(UTC)
        for index, rows, features, answer in zip(variants, parts, requested, answers, strict=True):
            model = loaded.models[index]
            target = slice(None) if rows is None else rows
            versions[target] = model.version
            names[target] = model.name
            self._record(
                request_id,
                now,
                deployment.name,
                loaded.variant_names[index],
                model,
                features,
                answer.predictions,
                latency_ms,
                is_shadow=False,
                row_request_ids=None if row_request_ids is None else row_request_ids[target],
                scores=_positive_scores(answer),
            )
        if loaded.shadow is not None:
            self._start_shadow(loaded, logged, request_id, started, row_request_ids, key_columns)
        if loaded.postprocess is not None and (kind or deployment.output_kind) != "proba":
            predictions = run_postprocess(loaded.postprocess, predictions, logged, deployment.name)
        return Prediction(
            request_id,
            deployment.name,
            predictions,
            names.tolist(),
            versions,
            loaded.models[0].output_name,
            tuple(loaded.models[index] for index in variants),
            scores,
            answers[0].classes,
        )

    async def predict_model(
        self, model: ServedModel, frame: pd.DataFrame, request_id: str, started: float, *, proba: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predict ``frame`` with one directly addressed model (no traffic split, no shadow): its predictions,
        and its class scores when ``proba``."""
        answer = await self._answer(model, frame, proba, "")
        latency_ms = (time.perf_counter() - started) * 1000
        self._record(
            request_id,
            datetime.now(UTC),
            "",
            f"{model.name}:{model.version}",
            model,
            frame,
            answer.predictions,
            latency_ms,
            is_shadow=False,
            scores=_positive_scores(answer),
        )
        return answer.predictions, answer.proba

    async def _answer(self, model: ServedModel, frame: pd.DataFrame, proba: bool, deployment: str) -> _Answer:
        if not proba:
            return _Answer(await self.call(model, frame))
        classifier = require_classifier(model, deployment)
        scores = await self.call(model, frame, proba=True)
        classes = tuple(classifier.classes)
        return _Answer(labels_of(scores, classes), scores, classes)

    async def call(self, model: ServedModel, frame: pd.DataFrame, *, proba: bool = False) -> np.ndarray:
        """``model.predict(frame)`` (or a classifier's ``predict_proba``), through the model's micro-batcher
        when batching is on."""
        # scores are asked only of classifiers (checked by the caller, once per request)
        target: ServedModel = ProbaView(cast(ServedClassifier, model)) if proba else model
        ordered = _in_schema_order(model, frame) if self._batching.enabled else None
        if ordered is None:
            # Unbatched, or wrong columns: the frame goes alone, so its error reaches only its own request.
            return np.ascontiguousarray(target.predict(frame))
        frame = ordered
        key = (id(model), proba)
        batcher = self._batchers.get(key)
        if batcher is None or _source(batcher.model) is not model:
            batcher = MicroBatcher(target, self._batching, self._metrics.batch_observer(model.name))
            self._batchers[key] = batcher
        return await batcher.predict(frame)

    async def prune(self) -> None:
        """Stop the batchers of models no longer served (after a hot swap), once their queues drain."""
        used = {id(model) for model in self._table.served_models()}
        stale = [key for key in self._batchers if key[0] not in used]
        for key in stale:
            await self._batchers.pop(key).close()

    async def close(self) -> None:
        """Wait for shadow predictions and queued batches."""
        if self._shadow_tasks:
            await asyncio.gather(*self._shadow_tasks, return_exceptions=True)
        for batcher in list(self._batchers.values()):
            await batcher.close()
        self._batchers.clear()

    def _start_shadow(
        self,
        loaded: LoadedDeployment,
        frame: pd.DataFrame,
        request_id: str,
        started: float,
        row_request_ids: np.ndarray | None = None,
        key_columns: tuple[str, ...] = (),
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._shadow(loaded, frame, request_id, started, row_request_ids, key_columns)
        )
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(
        self,
        loaded: LoadedDeployment,
        frame: pd.DataFrame,
        request_id: str,
        started: float,
        row_request_ids: np.ndarray | None,
        key_columns: tuple[str, ...],
    ) -> None:
        shadow = loaded.shadow
        assert shadow is not None and loaded.deployment.shadow is not None
        try:
            answer = await self.call(shadow, _model_inputs(shadow, frame, key_columns))
        except Exception:  # the caller already has its answer; a failing shadow is only logged
            _logger.exception("Shadow model %s v%d failed on request %s.", shadow.name, shadow.version, request_id)
            return
        latency_ms = (time.perf_counter() - started) * 1000
        self._record(
            request_id,
            datetime.now(UTC),
            loaded.deployment.name,
            loaded.deployment.shadow,
            shadow,
            frame,
            answer,
            latency_ms,
            is_shadow=True,
            row_request_ids=row_request_ids,
        )

    def _record(
        self,
        request_id: str,
        now: datetime,
        deployment: str,
        variant: str,
        model: ServedModel,
        features: pd.DataFrame,
        answer: np.ndarray,
        latency_ms: float,
        *,
        is_shadow: bool,
        row_request_ids: np.ndarray | None = None,
        scores: np.ndarray | None = None,
    ) -> None:
        version = str(model.version)
        self._metrics.rows.labels(deployment, model.name, version, "true" if is_shadow else "false").inc(len(answer))
        record = LogRecord(
            request_id,
            now,
            deployment,
            variant,
            model.name,
            model.version,
            features,
            answer,
            latency_ms,
            is_shadow,
            row_request_ids,
            scores,
        )
        self._logger.log(record)


def _positive_scores(answer: _Answer) -> np.ndarray | None:
    """A binary classifier's score of its positive class (the second of its two classes) per row, when the
    request computed class scores: the request log keeps it for ranking metrics (ROC-AUC, average precision)."""
    if answer.proba is None or len(answer.classes) != 2 or answer.proba.ndim != 2:
        return None
    positive: np.ndarray = answer.proba[:, 1]
    return positive


def _merged(
    answers: list[_Answer], rows: int, parts: list[np.ndarray | None], deployment: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """The variants' predictions (and scores) put back in request order."""
    if len(answers) == 1:
        return answers[0].predictions, answers[0].proba
    predictions = np.empty(rows, dtype=np.result_type(*(answer.predictions for answer in answers)))
    for answer, part in zip(answers, parts, strict=True):
        predictions[part] = answer.predictions
    if answers[0].proba is None:
        return predictions, None
    if any(answer.classes != answers[0].classes for answer in answers):
        raise ValidationError(
            f"Deployment '{deployment}' splits its traffic between classifiers of different classes "
            f"({[list(answer.classes) for answer in answers]}), so their scores cannot be answered together: "
            "serve classifiers of the same classes."
        )
    scores = np.empty((rows, len(answers[0].classes)), dtype=np.float64)
    for answer, part in zip(answers, parts, strict=True):
        scores[part] = answer.proba
    return predictions, scores


def _source(model: ServedModel) -> ServedModel:
    return model.source if isinstance(model, ProbaView) else model


def _key_columns(entity_keys: tuple[str, ...], keys: pd.DataFrame | None) -> tuple[str, ...]:
    """The columns that are there for routing or lookup only: the entity keys, and the keys of the entities
    whose features were looked up (a feature view's serving keys, which a deployment need not route by)."""
    return tuple(dict.fromkeys([*entity_keys, *([] if keys is None else list(keys.columns))]))


def _model_inputs(model: ServedModel, frame: pd.DataFrame, routing_keys: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` without the entity key columns that are there for routing or lookup only (the model does not
    read them)."""
    if not routing_keys:
        return frame
    wanted = {column for column, _ in model.input_schema}
    unread = [key for key in routing_keys if key in frame.columns and key not in wanted]
    return frame.drop(columns=unread) if unread else frame


def _with_keys(frame: pd.DataFrame, keys: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with the key columns it lacks (features looked up for entities come without them)."""
    if keys is None:
        return frame
    missing = [column for column in keys.columns if column not in frame.columns]
    if not missing:
        return frame
    return pd.concat([keys[missing].reset_index(drop=True), frame.reset_index(drop=True)], axis=1)


def _in_schema_order(model: ServedModel, frame: pd.DataFrame) -> pd.DataFrame | None:
    """``frame`` with its columns in the model's order, or None when they are not exactly the model's."""
    columns = [column for column, _ in model.input_schema]
    if list(frame.columns) == columns:
        return frame
    if len(frame.columns) == len(columns) and set(frame.columns) == set(columns):
        return frame[columns]
    return None
