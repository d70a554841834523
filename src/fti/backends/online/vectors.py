"""Fixed-size float vectors (embeddings) in online stores: raw bytes, or base64 text, per row.

A vector column is a ``fixed_size_list<float32 or float64>[n]``. SQLite stores each vector as one BLOB
of its little-endian values; Redis rows are text separated by bytes that never occur in UTF-8, so there a
vector is the base64 of those bytes (4/3 of their size, no padding: the length is known). Both directions
are vectorized with NumPy over the whole column: no per-row Python.
"""

from __future__ import annotations

import binascii
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["vector_bytes", "vector_text", "vectors_from_bytes", "vectors_from_text"]

_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", dtype=np.uint8)
_DECODE = np.zeros(256, dtype=np.uint8)
_DECODE[_ALPHABET] = np.arange(64, dtype=np.uint8)


def _byte_width(data_type: pa.DataType) -> int:
    return int(data_type.list_size * data_type.value_type.bit_width // 8)


def _matrix(array: pa.Array) -> np.ndarray:
    """The vectors as an (n, bytes per vector) uint8 matrix; null rows hold whatever their slots hold."""
    data_type = array.type
    values = array.values.slice(array.offset * data_type.list_size, len(array) * data_type.list_size)
    floats = values.to_numpy(zero_copy_only=False).astype(data_type.value_type.to_pandas_dtype(), copy=False)
    return (
        np.ascontiguousarray(floats.astype(floats.dtype.newbyteorder("<"), copy=False))
        .view(np.uint8)
        .reshape(len(array), _byte_width(data_type))
    )


def _with_nulls(result: pa.Array, source: pa.Array) -> pa.Array:
    if not source.null_count:
        return result
    return pc.if_else(source.is_valid(), result, pa.scalar(None, result.type))


def vector_bytes(array: pa.Array) -> pa.Array:
    """Each vector as the bytes of its little-endian values (a fixed-size binary array; nulls kept)."""
    width = _byte_width(array.type)
    raw = pa.py_buffer(_matrix(array).tobytes())
    return _with_nulls(pa.Array.from_buffers(pa.binary(width), len(array), [None, raw]), array)


def vectors_from_bytes(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    """The inverse of :func:`vector_bytes`: binary values (or nulls) back to ``data_type`` vectors."""
    width = _byte_width(data_type)
    filled = pc.fill_null(array.cast(pa.binary()), b"\0" * width)
    return _from_matrix(_contiguous(filled, width), data_type, array)


def vector_text(array: pa.Array) -> pa.Array:
    """Each vector as the base64 text (unpadded) of its little-endian bytes; nulls kept."""
    matrix = _matrix(array)
    count, width = matrix.shape
    chars = _text_width(width)
    if width % 3 == 0:  # whole rows of 3-byte groups: the buffer encodes in one C call
        text = np.frombuffer(binascii.b2a_base64(matrix.tobytes(), newline=False), dtype=np.uint8)
    else:
        padded = np.zeros((count, -(-width // 3) * 3), dtype=np.uint8)
        padded[:, :width] = matrix
        groups = padded.reshape(count, -1, 3)
        sextets = np.empty((count, groups.shape[1], 4), dtype=np.uint8)
        sextets[..., 0] = groups[..., 0] >> 2
        sextets[..., 1] = ((groups[..., 0] & 3) << 4) | (groups[..., 1] >> 4)
        sextets[..., 2] = ((groups[..., 1] & 15) << 2) | (groups[..., 2] >> 6)
        sextets[..., 3] = groups[..., 2] & 63
        text = _ALPHABET[sextets.reshape(count, -1)[:, :chars]]
    offsets = pa.py_buffer((np.arange(count + 1, dtype=np.int32) * chars).tobytes())
    strings = pa.Array.from_buffers(pa.string(), count, [None, offsets, pa.py_buffer(np.ascontiguousarray(text))])
    return _with_nulls(strings, array)


def vectors_from_text(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    """The inverse of :func:`vector_text`: base64 texts (or nulls) back to ``data_type`` vectors.

    Raises:
        ValueError: a text has not the length of one vector of ``data_type``.
    """
    width = _byte_width(data_type)
    chars = _text_width(width)
    filled = pc.fill_null(array.cast(pa.binary()), b"A" * chars)
    text = _contiguous(filled, chars)
    count = len(array)
    if width % 3 == 0:
        matrix = np.frombuffer(binascii.a2b_base64(text.tobytes()), dtype=np.uint8).reshape(count, width)
        return _from_matrix(matrix, data_type, array)
    sextets = np.zeros((count, -(-chars // 4) * 4), dtype=np.uint8)
    sextets[:, :chars] = _DECODE[text]
    quads = sextets.reshape(count, -1, 4)
    groups = np.empty((count, quads.shape[1], 3), dtype=np.uint8)
    groups[..., 0] = (quads[..., 0] << 2) | (quads[..., 1] >> 4)
    groups[..., 1] = ((quads[..., 1] & 15) << 4) | (quads[..., 2] >> 2)
    groups[..., 2] = ((quads[..., 2] & 3) << 6) | quads[..., 3]
    return _from_matrix(groups.reshape(count, -1)[:, :width], data_type, array)


def _text_width(byte_width: int) -> int:
    return -(-byte_width * 4 // 3)


def _contiguous(values: pa.Array, width: int) -> np.ndarray:
    """Binary values that all have ``width`` bytes as an (n, width) uint8 matrix."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    if len(values) and not np.all(np.diff(offsets) == width):
        raise ValueError(f"stored vectors must be {width} bytes long")
    data = np.frombuffer(values.buffers()[2] or b"", dtype=np.uint8)
    return data[offsets[0] : offsets[0] + len(values) * width].reshape(len(values), width)


def _from_matrix(matrix: np.ndarray, data_type: pa.DataType, source: pa.Array) -> pa.Array:
    dtype = np.dtype(data_type.value_type.to_pandas_dtype()).newbyteorder("<")
    floats = np.ascontiguousarray(matrix).view(dtype).reshape(-1)
    values = pa.array(floats.astype(dtype.newbyteorder("="), copy=False), type=data_type.value_type)
    mask: Any = source.is_null() if source.null_count else None
    return pa.FixedSizeListArray.from_arrays(values, type=data_type, mask=mask)
