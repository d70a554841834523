"""Request parsing (/v1, /invocations, V2 binary tensors), the request log writer and the micro-batcher."""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LinearRegression

from fti.errors import ValidationError
from fti.inference.batching import BatchingConfig, MicroBatcher
from fti.inference.payloads import parse_invocations, parse_v1
from fti.inference.tasks import stop_task
from fti.inference.v2 import encode_response, parse_infer
from fti.inference_log.features import feature_columns
from fti.inference_log.schema import STORED_LOG_SCHEMA
from fti.inference_log.writer import LogRecord, RequestLogConfig, RequestLogger, to_table
from fti.testing.serving import MemoryLogSink, SklearnModel

SCHEMA = [("a", "float64"), ("b", "float64")]
MODEL = SklearnModel(
    "m", 3, LinearRegression().fit(pd.DataFrame([[0, 0], [1, 0], [0, 1]], columns=["a", "b"]), [0, 1, 2]), SCHEMA, "y"
)


def test_v1_and_invocation_formats_become_the_same_frame() -> None:
    expected = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    records = [{"a": 1.0, "b": 3.0}, {"a": 2.0, "b": 4.0}]
    pd.testing.assert_frame_equal(parse_v1({"instances": records}).instances, expected, check_column_type=False)
    for payload in (
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 3.0], [2.0, 4.0]]}},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {"a": [1.0, 2.0], "b": [3.0, 4.0]}},
    ):
        pd.testing.assert_frame_equal(parse_invocations(payload), expected, check_column_type=False)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"instances": [], "entities": []}, "The request body needs exactly one of 'instances'"),
        ({"instances": [1]}, "Field 'instances[0]' must be an object, not a number."),
        ({"entities": [{"k": 1}], "passed_features": [{"a": 1}, {"a": 2}]}, "Field 'passed_features' has 2 rows"),
    ],
)
def test_v1_errors_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_v1(payload)
    assert str(caught.value).startswith(message)


def test_invocations_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_invocations({"inputs": {"a": [1.0], "b": [1.0, 2.0]}})
    assert str(caught.value) == "The columns of field 'inputs' differ in length ({'a': 1, 'b': 2}): send equal lengths."


def _binary_request(columns: dict[str, np.ndarray], outputs: list[dict[str, object]] | None) -> tuple[bytes, str]:
    head: dict[str, object] = {"id": "q", "inputs": []}
    data = b""
    for name, values in columns.items():
        raw = values.astype("<f8").tobytes()
        head["inputs"].append(  # type: ignore[attr-defined]
            {"name": name, "shape": [len(values)], "datatype": "FP64", "parameters": {"binary_data_size": len(raw)}}
        )
        data += raw
    if outputs is None:
        head["parameters"] = {"binary_data_output": True}
    else:
        head["outputs"] = outputs
    encoded = json.dumps(head).encode()
    return encoded + data, str(len(encoded))


def test_v2_binary_tensors_round_trip() -> None:
    body, length = _binary_request({"b": np.array([1.0, 0.0]), "a": np.array([0.0, 1.0])}, None)
    request = parse_infer(body, length, MODEL)
    assert request.id == "q" and request.binary_output
    predictions = MODEL.predict(request.frame)
    content, headers = encode_response(request, MODEL, "m", ("predict", predictions, None), "rid")
    size = int(headers["Inference-Header-Content-Length"])
    answer = json.loads(content[:size])
    assert answer["outputs"][0]["parameters"] == {"binary_data_size": 16}
    np.testing.assert_allclose(np.frombuffer(content[size:], "<f8"), [2.0, 1.0])


def test_v2_json_output_when_asked_and_unknown_outputs_rejected() -> None:
    body, length = _binary_request({"a": np.array([1.0]), "b": np.array([1.0])}, [{"name": "y"}])
    request = parse_infer(body, length, MODEL)
    content, headers = encode_response(request, MODEL, "m", ("predict", MODEL.predict(request.frame), None), "rid")
    assert headers == {}
    assert json.loads(content)["outputs"][0]["data"] == pytest.approx([3.0])
    body, length = _binary_request({"a": np.array([1.0])}, [{"name": "z"}])
    with pytest.raises(ValidationError) as caught:
        parse_infer(body, length, MODEL)
    assert str(caught.value) == "Model 'm' has no output 'z'; its outputs are 'y'."


def test_v2_rejects_binary_sizes_beyond_the_body() -> None:
    body, length = _binary_request({"a": np.array([1.0, 2.0])}, None)
    with pytest.raises(ValidationError) as caught:
        parse_infer(body[:-8], length, MODEL)
    assert str(caught.value) == (
        "Field 'inputs[0].parameters.binary_data_size' is 16 but only 8 binary bytes are left in the body."
    )


def test_v2_decodes_bytes_tensors() -> None:
    words = [b"ab", b"", b"xyz"]
    raw = b"".join(struct.pack("<I", len(word)) + word for word in words)
    head = json.dumps(
        {"inputs": [{"name": "s", "shape": [3], "datatype": "BYTES", "parameters": {"binary_data_size": len(raw)}}]}
    ).encode()
    model = SklearnModel("t", 1, None, [("s", "string")], "y")
    request = parse_infer(head + raw, str(len(head)), model)
    assert request.frame["s"].tolist() == ["ab", "", "xyz"]


def _record(rows: int, request_id: str = "r") -> LogRecord:
    frame = pd.DataFrame({"a": np.arange(rows, dtype=float), "k": np.arange(rows)})
    return LogRecord(request_id, datetime.now(UTC), "d", "m@champion", "m", 3, frame, np.ones(rows), 1.5, False)


def test_request_log_writes_batches_and_flushes_on_close() -> None:
    sink = MemoryLogSink()
    logger = RequestLogger(sink, RequestLogConfig(batch_rows=1000, flush_seconds=60))
    logger.start()
    logger.log(_record(3, "one"))
    logger.log(_record(2, "two"))
    assert logger.queue_depth == 5
    logger.close()
    table = sink.table()
    assert table.select(STORED_LOG_SCHEMA.names).schema == STORED_LOG_SCHEMA
    assert table["request_id"].to_pylist() == ["one"] * 3 + ["two"] * 2
    assert feature_columns(table).slice(4).to_pylist() == [{"a": 1.0, "k": 1}]
    assert logger.queue_depth == 0


def test_request_log_flush_writes_what_is_queued_before_it_returns() -> None:
    sink = MemoryLogSink()
    logger = RequestLogger(sink, RequestLogConfig(batch_rows=1000, flush_seconds=3600))
    logger.start()
    assert logger.flush()  # nothing queued: returns at once
    logger.log(_record(2, "one"))
    assert logger.flush()
    assert sink.table()["request_id"].to_pylist() == ["one", "one"]  # long before the hour-long interval
    logger.log(_record(1, "two"))
    assert logger.flush()
    assert sink.table()["request_id"].to_pylist() == ["one", "one", "two"]
    logger.close()


def test_request_log_drops_beyond_its_bound_and_counts_it() -> None:
    dropped: list[int] = []
    sink = MemoryLogSink()
    logger = RequestLogger(sink, RequestLogConfig(max_queue_rows=4), on_drop=dropped.append)
    logger.log(_record(3))
    logger.log(_record(3))
    logger.start()
    logger.close()
    assert dropped == [3]
    assert sink.table().num_rows == 3


class _FailingSink:
    def write(self, batch: pa.Table) -> None:
        raise OSError("disk full")


def test_a_failing_sink_loses_its_batch_but_not_the_writer(caplog: pytest.LogCaptureFixture) -> None:
    dropped: list[int] = []
    logger = RequestLogger(_FailingSink(), RequestLogConfig(), on_drop=dropped.append)
    logger.start()
    logger.log(_record(2))
    logger.close()
    assert dropped == [2]
    assert "Writing 2 request log rows failed; they are dropped." in caplog.text


def test_micro_batcher_gathers_concurrent_calls_and_splits_answers() -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(MODEL, BatchingConfig(enabled=True, max_batch_rows=64, max_wait_ms=50), sizes.append)
    frames = [pd.DataFrame({"a": [float(i)] * (1 + i % 3), "b": [0.0] * (1 + i % 3)}) for i in range(10)]

    async def run() -> list[np.ndarray]:
        answers = await asyncio.gather(*(batcher.predict(frame) for frame in frames))
        await batcher.close()
        return answers

    answers = asyncio.run(run())
    for frame, answer in zip(frames, answers, strict=True):
        np.testing.assert_allclose(answer, MODEL.predict(frame))
    assert sizes == [sum(len(frame) for frame in frames)]


def test_micro_batcher_closes_a_window_at_max_rows() -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(MODEL, BatchingConfig(enabled=True, max_batch_rows=4, max_wait_ms=50), sizes.append)
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 0.0]})

    async def run() -> None:
        await asyncio.gather(*(batcher.predict(frame) for _ in range(5)))
        await batcher.close()

    asyncio.run(run())
    assert sizes == [4, 4, 2]


def test_micro_batcher_without_a_window_batches_what_queued_while_the_model_was_busy() -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(MODEL, BatchingConfig(enabled=True, max_batch_rows=64, max_wait_ms=0), sizes.append)
    frame = pd.DataFrame({"a": [1.0], "b": [0.0]})

    async def run() -> None:
        await batcher.predict(frame)  # alone: predicted at once, no window
        await asyncio.gather(*(batcher.predict(frame) for _ in range(6)))  # all ready together: one batch
        await batcher.close()

    asyncio.run(run())
    assert sizes == [1, 6]


def test_micro_batcher_fails_only_the_bad_request_of_a_batch() -> None:
    batcher = MicroBatcher(MODEL, BatchingConfig(enabled=True, max_batch_rows=64, max_wait_ms=0))
    good = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]})
    bad = pd.DataFrame({"a": ["not a number"], "b": [0.0]})

    async def run() -> list[object]:
        answers = await asyncio.gather(
            batcher.predict(good), batcher.predict(bad), batcher.predict(good), return_exceptions=True
        )
        await batcher.close()
        return answers

    first, failed, last = asyncio.run(run())
    np.testing.assert_allclose(first, MODEL.predict(good))  # type: ignore[arg-type]
    np.testing.assert_allclose(last, MODEL.predict(good))  # type: ignore[arg-type]
    assert isinstance(failed, Exception)


def test_request_log_keeps_non_numeric_predictions_as_null() -> None:
    labels = LogRecord(
        "r", datetime.now(UTC), "d", "v", "m", 1, pd.DataFrame({"a": [1.0, 2.0]}), np.array(["x", "y"]), 1.0, False
    )
    table = to_table([_record(1), labels])
    assert table["prediction"].to_pylist() == [1.0, None, None]


def test_json_integers_stay_integers_next_to_floats() -> None:
    frame = parse_v1({"instances": [{"hour": 3, "amount": 1.5}, {"hour": 4, "amount": 2.0}]}).instances
    assert frame is not None
    assert frame.dtypes.astype(str).to_dict() == {"hour": "int64", "amount": "float64"}
    frame = parse_invocations({"dataframe_split": {"columns": ["amount", "hour"], "data": [[1.5, 3], [2.5, 1]]}})
    assert frame.dtypes.astype(str).to_dict() == {"amount": "float64", "hour": "int64"}


def test_a_close_cancelled_while_it_stops_the_worker_ends_cancelled() -> None:
    # the server's poller closes the batchers of models no longer served; cancelled (at shutdown) in the middle of
    # that, it must end, not swallow the cancellation and poll on while the shutdown waits for it forever
    batcher = MicroBatcher(MODEL, BatchingConfig(enabled=True, max_batch_rows=64, max_wait_ms=0))

    async def poll() -> None:
        while True:
            await batcher.predict(pd.DataFrame({"a": [1.0], "b": [0.0]}))  # a worker to stop
            await batcher.close()
            await asyncio.sleep(0.01)

    async def run() -> bool:
        poller = asyncio.get_running_loop().create_task(poll())
        for _ in range(10_000):
            if batcher._worker is not None and batcher._worker.cancelling():  # close() is waiting for it to end
                break
            await asyncio.sleep(0)
        else:
            raise AssertionError("close() never stopped the worker")
        poller.cancel()
        done, _ = await asyncio.wait({poller}, timeout=5)
        return poller in done and poller.cancelled()

    assert asyncio.run(run()), "the poller went on after it was cancelled during close()"


def test_stop_task_ends_the_task_and_passes_on_a_cancellation_of_its_caller() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    async def run() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        plain = loop.create_task(forever())
        await asyncio.sleep(0)
        await stop_task(plain)
        stubborn = loop.create_task(_ignores_one_cancel())
        await asyncio.sleep(0)
        caller = loop.create_task(stop_task(stubborn))
        await asyncio.sleep(0)
        caller.cancel()  # while it waits for a task that does not end at once
        await asyncio.wait({caller}, timeout=5)
        is_cancelled = caller.cancelled()
        stubborn.cancel()
        await asyncio.wait({stubborn}, timeout=5)
        return plain.cancelled(), is_cancelled

    assert asyncio.run(run()) == (True, True)


async def _ignores_one_cancel() -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await asyncio.Event().wait()  # keeps running after the first cancel, as a slow worker would
