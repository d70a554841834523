"""Streaming inference: a deployment scores each event of a stream, exactly once in effect.

One worker owns some partitions of the input stream (partition ``p`` goes to worker ``p % workers``). Each round
reads a micro-batch per partition and, as ``POST /v1/deployments/{name}/predict`` with ``entities`` would:

1. reads the deployment's entity keys (and any model input the events carry, a passed feature) as typed
   columns; an event missing a key, or with a value that does not read as its type, is refused;
2. builds the feature vectors through the deployment's feature view from the online store (where a stream
   job keeps the aggregates fresh), the passed features taking precedence; a deployment without a feature
   view reads every model input from the events;
3. scores them through the model server's own pipeline (:class:`fti.inference.pipeline.Predictor`: traffic
   split, preprocessing, shadow, postprocessing), each event its own request (``<stream>/<partition>/<id>``);
4. every ``commit_seconds``, writes the request log rows held since the last commit (one offline commit), then
   for each partition appends the predictions to the output stream (the input's partition, modulo the output's
   count), the refused events to ``<output>:dead`` with their reasons, and acknowledges the events, all three
   in one atomic broker step.

A worker killed at any moment leaves its events since the last commit unacknowledged and their outputs
unwritten; its successor reads
the pending messages again and scores them once more. Their request log rows may already be there: rows of a
replayed event whose request id the log holds are not written again. Each event is thus predicted once in the
output stream and logged once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.backends.ports.streams import StreamOutput
from fti.errors import MissingExtraError, ValidationError
from fti.inference_log.writer import LogRecord, RequestLogConfig, RequestLogger, to_table
from fti.streams.event_fields import typed_events
from fti.streams.jobs import dead_letter_stream
from fti.streams.partitioned import PartitionedJob
from fti.streams.running import dead_letter_table, record_freshness

if TYPE_CHECKING:
    import pandas as pd

    from fti.backends.ports import StreamBroker, StreamMessages
    from fti.inference.live import LoadedDeployment, ModelTable
    from fti.inference.pipeline import Prediction, Predictor
    from fti.inference.ports import FeatureLookup
    from fti.inference_log import InferenceLog

__all__ = ["PredictionJob", "PredictionJobOptions"]


@dataclass(frozen=True, slots=True)
class PredictionJobOptions:
    """How a prediction job reads: ``group`` is the consumer group (default ``predict_<deployment>``),
    ``batch_size`` the most events per partition and round, ``block_ms`` how long a round waits for events,
    ``refresh_seconds`` how often the deployment is checked for changes (moved aliases: new models),
    ``commit_seconds`` how often the request log and the outputs are written (each event's prediction is in the
    output stream at most about that long after it was scored)."""

    group: str | None = None
    batch_size: int = 1_000
    block_ms: int = 100
    refresh_seconds: float = 5.0
    commit_seconds: float = 0.25


class PredictionJob(PartitionedJob):
    """One worker of a deployment's streaming inference: events from ``source``, predictions to ``to``.

    Made by :meth:`fti.Project.prediction_job`; ``key_types`` are the feature view's serving keys' dtypes.

    Example:
        >>> job = project.prediction_job("fraud", source="transactions", to="fraud_scores")  # doctest: +SKIP
        >>> job.run(should_stop=lambda: False)  # doctest: +SKIP
    """

    def __init__(
        self,
        deployment: str,
        *,
        source: str,
        to: str,
        broker: StreamBroker,
        table: ModelTable,
        features: FeatureLookup,
        log: InferenceLog,
        key_types: Mapping[str, str],
        worker: int = 0,
        workers: int = 1,
        options: PredictionJobOptions | None = None,
    ) -> None:
        options = options or PredictionJobOptions()
        super().__init__(
            broker, source, worker=worker, workers=workers, batch_size=options.batch_size, block_ms=options.block_ms
        )
        if source == to:
            raise ValidationError(
                f"Stream '{source}' cannot be both the events and the predictions: pick another --to."
            )
        self.deployment = deployment
        self.source = source
        self.to = to
        self._table = table
        self._features = features
        self._log = log
        self._key_types = dict(key_types)
        self._options = options
        self._group = options.group or f"predict_{deployment}"
        self._outputs = 1
        self._refreshed = self._committed = time.monotonic()
        self._acks: dict[int, list[str]] = {}
        self._outputs_of: dict[int, list[StreamOutput]] = {}
        self._log_rows: list[pa.Table] = []
        self._arrived: list[int] = []
        self._held = _HeldLog()
        self._predictor: Predictor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def consumer_group(self) -> str:
        """The consumer group (default ``predict_<deployment>``)."""
        return self._group

    def start(self) -> None:
        """Load the deployment, create the output stream, and score what this worker left unacknowledged."""
        loaded = self._table.find_deployment(self.deployment) or self._table.load_deployment(self.deployment)
        self._read_kinds(loaded)  # refuse a deployment the events cannot be scored by, before reading any
        count = self._own_partitions()
        self._outputs = self._broker.create_stream(self.to, count)
        if self._predictor is None:
            self._predictor = _predictor(self._table, self._held)
            self._loop = asyncio.new_event_loop()
        for partition in self._partitions:
            self._replay(partition)

    def step(self) -> int:
        """Score one micro-batch per partition; return the events read. Every ``refresh_seconds`` the deployment
        is checked for changes first (a moved alias, a new traffic split), as the model server does."""
        if time.monotonic() - self._refreshed >= self._options.refresh_seconds:
            self._table.refresh()
            self._refreshed = time.monotonic()
        read = super().step()
        if time.monotonic() - self._committed >= self._options.commit_seconds:
            self.commit()
        return read

    def _reset(self) -> None:
        """Forget everything since the last commit (the next :meth:`start` scores those events again)."""
        self._held.take()
        self._acks, self._outputs_of, self._log_rows, self._arrived = {}, {}, [], []

    def close(self) -> None:
        """Wait for the scoring pipeline to finish and release it."""
        if self._predictor is not None and self._loop is not None:
            self._loop.run_until_complete(self._predictor.close())
            self._loop.close()
        self._predictor, self._loop = None, None

    # -- one micro-batch ----------------------------------------------------------------------------

    def _fields(self) -> list[str]:
        return list(self._read_kinds(self._loaded()))

    def _process(self, messages: StreamMessages, *, is_replay: bool) -> None:
        loaded = self._loaded()
        kinds = self._read_kinds(loaded)
        required = list(self._key_types) if loaded.deployment.feature_lookup else list(kinds)
        typed = typed_events(messages.events, kinds, required)
        refused = list(typed.refused)
        outputs = self._outputs_of.setdefault(messages.partition, [])
        if len(typed.positions):
            ids = _request_ids(self.source, messages, typed.positions)
            try:
                prediction = self._score(loaded, typed.columns, ids)
            except ValidationError as exc:  # the model or its hooks refused the batch: each event, with the reason
                refused = sorted(refused + [(int(p), str(exc)) for p in typed.positions])
            else:
                self._hold_log(is_replay)
                table = _output_table(messages, typed.positions, typed.columns, list(self._key_types), ids, prediction)
                outputs.append(StreamOutput(self.to, table, [messages.partition % self._outputs] * table.num_rows))
                self.progress.rows_out += table.num_rows
        if refused:
            outputs.append(
                StreamOutput(dead_letter_stream(self.to), dead_letter_table(messages, refused), [0] * len(refused))
            )
        self._acks.setdefault(messages.partition, []).extend(messages.ids)
        self.progress.events_in += len(messages.ids)
        self.progress.dead_letters += len(refused)
        self._arrived.extend(messages.arrived_ms)

    def commit(self) -> None:
        """Commit the request log rows held since the last commit, then append each partition's predictions and
        dead letters together with the acknowledgement of its events, atomically."""
        if self._log_rows:
            self._log.write(pa.concat_tables(self._log_rows))
            self._log_rows = []
        for partition, ids in self._acks.items():
            if ids:
                outputs = self._outputs_of.get(partition, [])
                self._broker.commit_with_outputs(self.source, partition, self._group, ids, b"", outputs)
                self.progress.commits += 1
        self._acks, self._outputs_of = {}, {}
        record_freshness(self.progress.freshness_ms, self._arrived)
        self._arrived = []
        self._committed = time.monotonic()

    def _score(self, loaded: LoadedDeployment, columns: pa.Table, ids: np.ndarray) -> Prediction:
        assert self._predictor is not None and self._loop is not None
        deployment = loaded.deployment
        frame = columns.to_pandas()
        keys: pd.DataFrame | None
        if deployment.feature_lookup is not None:
            keys = frame[list(self._key_types)]
            passed = frame.drop(columns=list(self._key_types))
            passed = passed[[c for c in passed.columns if passed[c].notna().any()]]
            frame = self._features.get_feature_vectors(
                deployment.feature_lookup, keys, passed if len(passed.columns) else None
            )
        else:
            keys = loaded.router.key_frame(frame)
        started = time.perf_counter()
        return self._loop.run_until_complete(
            self._predictor.predict_deployment(loaded, frame, keys, str(ids[0]), started, row_request_ids=ids)
        )

    def _hold_log(self, is_replay: bool) -> None:
        held = self._held.take()
        if not held:
            return
        rows = to_table(held)
        if is_replay:  # rows of these events may have been logged before the worker died
            logged = self._log.request_ids(self.deployment)
            rows = rows.filter(pc.invert(pc.is_in(rows.column("request_id"), value_set=logged)))
        self._log_rows.append(rows)

    def _loaded(self) -> LoadedDeployment:
        loaded = self._table.find_deployment(self.deployment)
        return loaded if loaded is not None else self._table.load_deployment(self.deployment)

    def _read_kinds(self, loaded: LoadedDeployment) -> dict[str, str]:
        """The event fields read, with their dtypes: the entity keys, then the model inputs."""
        kinds = dict(self._key_types)
        for model in loaded.models:
            for column, kind in model.input_schema:
                kinds.setdefault(column, kind)
        if loaded.deployment.feature_lookup is None and not kinds:
            raise ValidationError(
                f"Deployment '{self.deployment}' has no feature view and its model names no inputs: nothing to read "
                "from the events. Deploy it with feature_view=..., or register the model with a signature."
            )
        return kinds


class _HeldLog(RequestLogger):
    """A request log holding its records until taken: the job writes them itself, before acknowledging."""

    def __init__(self) -> None:
        super().__init__(_NoSink(), RequestLogConfig())
        self._held: list[LogRecord] = []

    def log(self, record: LogRecord) -> None:
        """Hold ``record``."""
        self._held.append(record)

    def take(self) -> list[LogRecord]:
        """The records held so far, no longer held."""
        held, self._held = self._held, []
        return held


class _NoSink:
    def write(self, batch: pa.Table) -> None:
        raise AssertionError("a held request log is written by its job")


def _predictor(table: ModelTable, log: RequestLogger) -> Predictor:
    """The model server's pipeline over ``table``, logging into a held log (written by the job, not a thread)."""
    try:
        from fti.inference.batching import BatchingConfig
        from fti.inference.metrics import ServerMetrics
        from fti.inference.pipeline import Predictor
    except ModuleNotFoundError as exc:
        raise MissingExtraError("Streaming inference needs the 'serve' extra: pip install 'fti[serve]'") from exc
    return Predictor(table, log, ServerMetrics(), BatchingConfig(False, 1, 0.0))


def _request_ids(stream: str, messages: StreamMessages, positions: np.ndarray) -> np.ndarray:
    """``<stream>/<partition>/<message id>`` of the messages at ``positions``."""
    ids = pa.array(messages.ids, pa.string()).take(pa.array(positions, pa.int64()))
    joined = pc.binary_join_element_wise(f"{stream}/{messages.partition}", ids, "/")
    return np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)


def _output_table(
    messages: StreamMessages,
    positions: np.ndarray,
    columns: pa.Table,
    keys: list[str],
    ids: np.ndarray,
    prediction: Prediction,
) -> pa.Table:
    """One row per scored event: its event and request ids, its keys, the prediction, class scores, the model."""
    index = pa.array(positions, pa.int64())
    out: dict[str, Any] = {
        "event_id": pa.array(messages.ids, pa.string()).take(index),
        "request_id": pa.array(ids.astype(str), pa.string()),
    }
    out |= {key: columns.column(key) for key in keys}
    out["prediction"] = pa.array(np.asarray(prediction.predictions).tolist())
    if prediction.proba is not None:
        for column, label in enumerate(prediction.classes):
            out[f"proba_{label}"] = pa.array(prediction.proba[:, column])
    out["model_name"] = pa.array(prediction.model_names, pa.string())
    out["model_version"] = pa.array(prediction.model_versions, pa.int64())
    return pa.table(out)
