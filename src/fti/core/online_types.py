"""Which column types online stores hold, and what to store instead of one they do not.

Online stores give back exactly what was written: integers (but uint64), floats, bools, strings,
timestamps, dates, and fixed-size vectors of floats (embeddings). Binary values (images, documents) and
lists of no fixed size stay offline; the message says what to put online in their place. Feature groups
check this before their first write, so an online group never commits rows it could not serve.
"""

from __future__ import annotations

import pyarrow as pa

from fti.core.vectors import is_vector_type

__all__ = ["is_supported_type", "online_type_problem"]


def is_supported_type(data_type: pa.DataType) -> bool:
    """Whether online stores can hold ``data_type`` and give it back exactly."""
    return bool(
        (pa.types.is_integer(data_type) and data_type != pa.uint64())
        or pa.types.is_float32(data_type)
        or pa.types.is_float64(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_timestamp(data_type)
        or pa.types.is_date32(data_type)
        or is_vector_type(data_type)
    )


def online_type_problem(data_type: pa.DataType) -> str | None:
    """None when online stores hold ``data_type``; else why not and what to store instead (a sentence's end,
    to follow "Column 'x' of ...")."""
    if is_supported_type(data_type):
        return None
    start = f"has type {data_type}, which online stores do not hold"
    if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type) or pa.types.is_fixed_size_binary(data_type):
        return (
            f"{start}: keep binary data such as images in an offline feature group, and put online a string "
            "reference to it (an object-store key or URL) or its embedding (a fixed-size list of float32)."
        )
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type) or pa.types.is_fixed_size_list(data_type):
        return (
            f"{start}: online stores hold vectors of a fixed size of float32 or float64; store the column as "
            "pyarrow.list_(pyarrow.float32(), DIMENSION) (fti.embed gives such vectors)."
        )
    return f"{start}: use an integer, float, bool, string, timestamp or date column, or a float vector."
