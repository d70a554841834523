"""Open Inference Protocol (V2) tensors, with Triton's binary-tensor extension.

A request is JSON, optionally followed by raw tensor bytes: the ``Inference-Header-Content-Length``
header says where the JSON ends, and each input with ``parameters.binary_data_size`` takes its bytes, in
input order, from what follows. Outputs asked for with ``parameters.binary_data`` (or all outputs, when
the request sets ``parameters.binary_data_output``, as ``tritonclient`` does by default) are answered
the same way.

Inputs map to the model's columns in one of two ways: one tensor per column (named after it, shape
``[n]`` or ``[n, 1]``), or a single ``[n, k]`` tensor whose columns are the model's ``k`` inputs in order.

A classifier has two outputs: its predictions (named after the model's output) and its class scores
(``proba``, ``[n, classes]``). A request names the outputs it wants; without ``outputs`` it gets what the
deployment's ``output_kind`` says (a registered model addressed directly: its predictions).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from fti.core.deployments import OutputKind
from fti.errors import ValidationError
from fti.inference.outputs import PROBA_OUTPUT
from fti.inference.payloads import column_index
from fti.inference.ports import ServedClassifier, ServedModel

__all__ = ["InferRequest", "datatype_of", "encode_response", "model_metadata", "parse_infer", "requested_kind"]

_DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_NAMES = {dtype: name for name, dtype in _DATATYPES.items() if name != "BYTES"}
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class InferRequest:
    """A parsed V2 inference request."""

    id: str | None
    frame: pd.DataFrame
    outputs: list[dict[str, Any]] | None
    binary_output: bool


def datatype_of(dtype: np.dtype[Any] | str) -> str:
    """The V2 datatype name of a numpy dtype (or dtype name); strings and objects are BYTES."""
    try:
        return _NAMES.get(np.dtype(dtype), "BYTES")
    except TypeError:
        return "BYTES"


def model_metadata(model: ServedModel, name: str) -> dict[str, Any]:
    """The ``GET /v2/models/{name}`` answer for ``model``."""
    return {
        "name": name,
        "versions": [str(model.version)],
        "platform": "fti",
        "inputs": [
            {"name": column, "datatype": datatype_of(dtype), "shape": [-1]} for column, dtype in model.input_schema
        ],
        "outputs": [
            {"name": model.output_name, "datatype": "FP64", "shape": [-1]},
            *(
                [{"name": PROBA_OUTPUT, "datatype": "FP64", "shape": [-1, len(model.classes)]}]
                if isinstance(model, ServedClassifier)
                else []
            ),
        ],
    }


def requested_kind(request: InferRequest, model: ServedModel, default: OutputKind) -> OutputKind:
    """The output kind the request's ``outputs`` ask for (``default`` when it names none)."""
    if not request.outputs:
        return default
    names = {output.get("name") for output in request.outputs}
    if names == {PROBA_OUTPUT}:
        return "proba"
    return "both" if PROBA_OUTPUT in names else "predict"


def parse_infer(body: bytes, header_length: str | None, model: ServedModel) -> InferRequest:
    """Decode a V2 request body (JSON, or JSON plus binary tensors) into the model's input frame."""
    if header_length is None:
        head, binary = body, b""
    else:
        try:
            size = int(header_length)
        except ValueError:
            size = -1
        if not 0 <= size <= len(body):
            raise ValidationError(
                f"Header 'Inference-Header-Content-Length' is {header_length!r} but the body has {len(body)} "
                "bytes: it must be the length of the JSON part."
            )
        head, binary = body[:size], body[size:]
    try:
        request = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"The inference request's JSON is invalid ({exc}).") from exc
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list) or not request["inputs"]:
        raise ValidationError("Field 'inputs' must be a non-empty list of tensors.")
    tensors = _decode_inputs(request["inputs"], binary)
    outputs = request.get("outputs")
    if outputs is not None and not (isinstance(outputs, list) and all(isinstance(o, dict) for o in outputs)):
        raise ValidationError("Field 'outputs' must be a list of objects with a 'name'.")
    for index, output in enumerate(outputs or ()):
        _parameters(output.get("parameters"), f"outputs[{index}].parameters")
    known = [model.output_name, *([PROBA_OUTPUT] if isinstance(model, ServedClassifier) else [])]
    for output in outputs or ():
        if output.get("name") not in known:
            raise ValidationError(
                f"Model '{model.name}' has no output '{output.get('name')}'; its outputs are "
                f"{', '.join(repr(name) for name in known)}."
            )
    parameters = _parameters(request.get("parameters"), "parameters")
    request_id = request.get("id")
    return InferRequest(
        id=str(request_id) if request_id is not None else None,
        frame=_frame(tensors, model),
        outputs=outputs,
        binary_output=bool(parameters.get("binary_data_output", False)),
    )


def encode_response(
    request: InferRequest,
    model: ServedModel,
    name: str,
    answer: tuple[OutputKind, np.ndarray, np.ndarray | None],
    request_id: str,
) -> tuple[bytes, dict[str, str]]:
    """The V2 response body and its extra headers (``Inference-Header-Content-Length`` when binary).

    ``answer`` is the output kind answered, the predictions and the class scores (None unless asked for).
    """
    kind, predictions, proba = answer
    wanted = {output.get("name"): output for output in request.outputs or ()}
    tensors: list[tuple[str, np.ndarray]] = []
    if kind != "proba":
        tensors.append((model.output_name, np.ascontiguousarray(predictions)))
    if proba is not None and kind != "predict":
        tensors.append((PROBA_OUTPUT, np.ascontiguousarray(proba)))
    outputs: list[dict[str, Any]] = []
    binary: list[bytes] = []
    for output_name, values in tensors:
        parameters = (wanted.get(output_name) or {}).get("parameters") or {}
        output: dict[str, Any] = {
            "name": output_name,
            "datatype": datatype_of(values.dtype),
            "shape": list(values.shape),
        }
        if bool(parameters.get("binary_data", request.binary_output)):
            binary.append(_to_bytes(values.reshape(-1), output["datatype"]))
            output["parameters"] = {"binary_data_size": len(binary[-1])}
        else:
            output["data"] = values.reshape(-1).tolist()
        outputs.append(output)
    body = {
        "model_name": name,
        "model_version": str(model.version),
        "id": request.id if request.id is not None else request_id,
        "outputs": outputs,
    }
    head = orjson.dumps(body)
    if not binary:
        return head, {}
    return head + b"".join(binary), {"Inference-Header-Content-Length": str(len(head))}


def _decode_inputs(inputs: list[Any], binary: bytes) -> list[tuple[str, np.ndarray]]:
    tensors: list[tuple[str, np.ndarray]] = []
    offset = 0
    for index, tensor in enumerate(inputs):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise ValidationError(f"Field '{where}' must be a tensor object with 'name', 'shape', 'datatype'.")
        datatype = tensor.get("datatype")
        if datatype not in _DATATYPES:
            raise ValidationError(f"Field '{where}.datatype' is {datatype!r}; use one of {sorted(_DATATYPES)}.")
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(type(dim) is int and dim >= 0 for dim in shape) or not shape:
            raise ValidationError(f"Field '{where}.shape' must be a list of non-negative integers, not {shape!r}.")
        size = _parameters(tensor.get("parameters"), f"{where}.parameters").get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise ValidationError(
                    f"Field '{where}.parameters.binary_data_size' is {size!r} but only "
                    f"{len(binary) - offset} binary bytes are left in the body."
                )
            array = _from_bytes(binary[offset : offset + size], datatype, where)
            offset += size
        elif "data" in tensor:
            array = _from_json(tensor["data"], datatype, where)
        else:
            raise ValidationError(f"Field '{where}' has neither 'data' nor 'parameters.binary_data_size'.")
        expected = math.prod(shape)
        if array.size != expected:
            raise ValidationError(f"Field '{where}' has {array.size} values but its shape {shape} needs {expected}.")
        tensors.append((tensor["name"], array.reshape(shape)))
    return tensors


def _parameters(value: Any, where: str) -> dict[str, Any]:
    """A ``parameters`` field: an object, or absent."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"Field '{where}' must be an object such as {{\"binary_data\": true}}, not {value!r}.")
    return value


def _from_json(data: Any, datatype: str, where: str) -> np.ndarray:
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow to infinity is refused below
            array = np.asarray(data, dtype=_DATATYPES[datatype]).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"Field '{where}.data' does not hold {datatype} values ({exc}).") from exc
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValidationError(f"Field '{where}.data' holds values beyond {datatype}'s range: send a wider datatype.")
    return array


def _from_bytes(raw: bytes, datatype: str, where: str) -> np.ndarray:
    if datatype != "BYTES":
        dtype = _DATATYPES[datatype]
        if len(raw) % dtype.itemsize:
            raise ValidationError(f"Field '{where}' has {len(raw)} binary bytes, not a multiple of {datatype}'s size.")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    values: list[str] = []
    offset = 0
    while offset < len(raw):  # length-prefixed strings: only string tensors take this path
        end = offset + 4 + (_LENGTH.unpack_from(raw, offset)[0] if offset + 4 <= len(raw) else 0)
        if offset + 4 > len(raw) or end > len(raw):
            raise ValidationError(
                f"Field '{where}' has a BYTES element at byte {offset} whose 4-byte length prefix runs past the "
                f"{len(raw)} binary bytes: each element is a little-endian length, then that many bytes."
            )
        try:
            values.append(raw[offset + 4 : end].decode())
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"Field '{where}' has a BYTES element at byte {offset} that is not UTF-8 ({exc})."
            ) from None
        offset = end
    return np.array(values, dtype=object)


def _to_bytes(values: np.ndarray, datatype: str) -> bytes:
    if datatype != "BYTES":
        return values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()
    encoded = [str(value).encode() for value in values]
    return b"".join(_LENGTH.pack(len(item)) + item for item in encoded)


def _frame(tensors: list[tuple[str, np.ndarray]], model: ServedModel) -> pd.DataFrame:
    columns = [column for column, _ in model.input_schema]
    if len(tensors) == 1 and tensors[0][0] not in columns and tensors[0][1].ndim == 2:
        name, matrix = tensors[0]
        if matrix.shape[1] != len(columns):
            raise ValidationError(
                f"Input '{name}' has {matrix.shape[1]} columns but model '{model.name}' v{model.version} reads "
                f"{len(columns)} ({columns}): send one column per input, in that order."
            )
        return pd.DataFrame(matrix, columns=column_index(tuple(columns)), copy=False)
    frame: dict[str, np.ndarray] = {}
    for name, array in tensors:
        if array.ndim > 2 or (array.ndim == 2 and array.shape[1] != 1):
            raise ValidationError(
                f"Input '{name}' has shape {list(array.shape)}; send one tensor per column with shape [n] or "
                f"[n, 1], or one [n, {len(columns)}] tensor of all of model '{model.name}''s inputs."
            )
        frame[name] = array.reshape(-1)
    rows = {len(array) for array in frame.values()}
    if len(rows) > 1:
        raise ValidationError(f"The input tensors differ in length ({sorted(rows)} rows): send equal lengths.")
    names = column_index(tuple(frame))
    arrays = list(frame.values())
    if len({array.dtype for array in arrays}) == 1 and arrays[0].dtype.kind in "biuf":
        return pd.DataFrame(np.column_stack(arrays), columns=names, copy=False)  # one block: cheap to select
    return pd.DataFrame(dict(zip(names, arrays, strict=True)), columns=names)
