"""Text embeddings as features: a transformation that adds a vector column computed from a text column.

:func:`add_embedding` returns a callable for the ``transform=`` option of ``insert`` and ``ingest`` (it
takes and returns a pyarrow Table, so batches reach it without a pandas round trip) or for a pipeline's
own code (it also takes a pandas DataFrame). The vectors are :func:`fti.embed`'s, stored as a
``fixed_size_list<float32>[dimension]`` column that offline and online stores hold and
``find_neighbors`` searches; a missing text gives a missing vector.

Example:
    >>> docs.insert(frame, transform=fti.llm.add_embedding("body", into="body_embedding"))  # doctest: +SKIP
    >>> docs.find_neighbors("a refund for a cancelled order", k=5)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.core.naming import validate_identifier
from fti.errors import ValidationError
from fti.llm.embeddings import embed

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TextEmbedding", "add_embedding"]


@dataclass(frozen=True, slots=True)
class TextEmbedding:
    """Adds the embedding of a text column as a vector column (see :func:`add_embedding`)."""

    column: str
    into: str
    model: str | Path | None = None
    batch_size: int = 64
    keep_text: bool = True

    def __call__(self, data: pa.Table | pd.DataFrame) -> pa.Table | pd.DataFrame:
        """``data`` with the vector column added (replaced if present), as the same kind of table."""
        if isinstance(data, pa.Table):
            return self._add(data)
        return self._add(pa.Table.from_pandas(data, preserve_index=False)).to_pandas()

    def _add(self, table: pa.Table) -> pa.Table:
        if self.column not in table.column_names:
            raise ValidationError(
                f"add_embedding: the data has no text column '{self.column}'; it has {table.column_names}."
            )
        texts = table.column(self.column).combine_chunks()
        if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
            raise ValidationError(
                f"add_embedding: column '{self.column}' holds {texts.type}, not text; cast it to strings first."
            )
        present = texts.is_valid()
        vectors = embed(texts.filter(present).to_pylist(), batch_size=self.batch_size, model=self.model)
        dimension = vectors.shape[1]
        full = np.zeros((len(texts), dimension), dtype=np.float32)
        full[present.to_numpy(zero_copy_only=False)] = vectors
        mask = pc.invert(present) if texts.null_count else None
        column = pa.FixedSizeListArray.from_arrays(pa.array(full.reshape(-1)), dimension, mask=mask)
        if self.into in table.column_names:
            table = table.drop_columns([self.into])
        if not self.keep_text:
            table = table.drop_columns([self.column])
        return table.append_column(pa.field(self.into, column.type), column)


def add_embedding(
    column: str,
    *,
    into: str | None = None,
    model: str | Path | None = None,
    batch_size: int = 64,
    keep_text: bool = True,
) -> TextEmbedding:
    """A transformation adding the embedding of text column ``column`` as a float32 vector column.

    Args:
        column: the text column.
        into: the vector column's name (default: ``<column>_embedding``).
        model: the embedding model (default: :func:`fti.embed`'s, 384 dimensions).
        batch_size: texts embedded at once.
        keep_text: keep the text column (False drops it).

    Example:
        >>> docs.insert(frame, transform=fti.llm.add_embedding("body"))  # doctest: +SKIP
    """
    name = into or f"{column}_embedding"
    validate_identifier(name, "embedding column name")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"add_embedding: batch_size must be a whole number from 1 up, got {batch_size!r}.")
    return TextEmbedding(column, name, model, batch_size, keep_text)
