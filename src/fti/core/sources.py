"""The Source port and the catalog records of reading from sources: cursors and the lineage of a commit.

A source (a folder of files, a database table, an HTTP API, later a stream) streams Arrow record
batches from where its cursor says it stopped. Each batch carries the cursor after it, so whoever
reads knows where to resume; the feature store keeps the last cursor of each source in the catalog,
advanced in the transaction that records the commit of what was read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from fti.core.tracking import CodeVersion

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CommitLineage",
    "Cursor",
    "Source",
    "SourceBatch",
    "SourceCursorRecord",
    "SourceInfo",
    "SourceOpener",
    "SourceParts",
    "SplittableSource",
    "describe_cursor",
    "describe_span",
]

#: where a source stopped reading: plain JSON data that only the source interprets
Cursor = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a source is: its kind (``csv``, ``sql``, ``http``...), its location without secrets, and its name.

    The name keys the source's cursor in a feature group; it defaults to ``kind:location``.
    """

    kind: str
    location: str
    name: str


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Rows read from a source, the cursor after them, and what the source read for them.

    ``span`` says what the read covered so far (the files read, the cursor column's first and last
    value): it becomes the commit's lineage. ``bytes_read`` counts input bytes, for progress.
    """

    data: pa.RecordBatch
    cursor: dict[str, Any]
    span: dict[str, Any]
    bytes_read: int = 0


@runtime_checkable
class Source(Protocol):
    """Where a feature pipeline reads from: Arrow batches since a cursor, each with the cursor after it."""

    @property
    def info(self) -> SourceInfo:
        """Kind, location (no secrets) and name."""

    def schema(self) -> pa.Schema:
        """The columns the source yields (may read the first file, row or page)."""

    def read(self, cursor: Cursor | None) -> Iterator[SourceBatch]:
        """Stream what is new since ``cursor`` (None: everything), batch by batch, never all at once.

        Raises:
            ValidationError: the input is malformed (naming the file, line, column or page).
            NotFoundError: the file, table or endpoint does not exist.
            BackendError: the database or API is unreachable after retries.
        """


@dataclass(frozen=True, slots=True)
class SourceParts:
    """What is new in a source since a cursor, cut into parts that are read independently (on a cluster).

    Each part is a source of its own, read from no cursor (``part.read(None)``) and picklable; read one after
    the other, the parts yield the rows the source's ``read`` would. ``cursor`` and ``span`` are those after the
    last part.
    """

    parts: tuple[Source, ...]
    cursor: dict[str, Any]
    span: dict[str, Any]


@runtime_checkable
class SplittableSource(Source, Protocol):
    """A source whose new rows can be read in parts at once: a folder of files split by file, a table by ranges of
    its cursor column."""

    def split(self, cursor: Cursor | None, parts: int) -> SourceParts | None:
        """What is new since ``cursor`` in at most ``parts`` parts, or None when it is too little to split."""


#: turns a path, URL or YAML spec into a source (``fti.sources.open_source``)
SourceOpener = Callable[[str], Source]


@dataclass(frozen=True, slots=True)
class SourceCursorRecord:
    """The last cursor a feature group recorded for one of its sources, and the commit that recorded it."""

    feature_group_id: int
    source: str
    kind: str
    location: str
    cursor: dict[str, Any]
    commit: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CommitLineage:
    """Where a commit's rows came from: the source and what of it was read, the code, the pipeline or run.

    ``source`` is None for data passed in memory (a DataFrame, an Arrow table); ``span`` then is empty.
    """

    source: SourceInfo | None
    span: dict[str, Any] = field(default_factory=dict)
    code: CodeVersion | None = None
    run_id: str | None = None
    pipeline: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the catalog."""
        source = self.source
        code = self.code
        return {
            "source": None
            if source is None
            else {"kind": source.kind, "location": source.location, "name": source.name},
            "span": dict(self.span),
            "code": None
            if code is None
            else {"git_commit": code.git_commit, "is_dirty": code.is_dirty, "entry_point": code.entry_point},
            "run_id": self.run_id,
            "pipeline": self.pipeline,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CommitLineage:
        """The lineage written by :meth:`to_json`."""
        source, code = data.get("source"), data.get("code")
        return cls(
            source=None
            if source is None
            else SourceInfo(str(source["kind"]), str(source["location"]), str(source["name"])),
            span=dict(data.get("span") or {}),
            code=None
            if code is None
            else CodeVersion(code.get("git_commit"), code.get("is_dirty"), code.get("entry_point")),
            run_id=data.get("run_id"),
            pipeline=data.get("pipeline"),
        )

    def describe_span(self) -> str:
        """What was read, in a few words: ``2 file(s): a.csv, b.csv`` or ``id after 100 through 250``."""
        return describe_span(self.span)


def describe_span(span: Mapping[str, Any]) -> str:
    """A span in a few words (see :class:`SourceBatch`)."""
    if "files" in span:
        files = [str(name) for name in span["files"]]
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        return f"{len(files)} file(s): {shown}" if files else "no files"
    parts = []
    if span.get("column"):
        after = span.get("after")
        start = "from the start" if after is None else f"after {after}"
        parts.append(f"{span['column']} {start} through {span.get('through')}")
    if "pages" in span:
        parts.append(f"{span['pages']} page(s)")
    return ", ".join(parts)


def describe_cursor(cursor: Mapping[str, Any]) -> str:
    """A stored cursor in a few words: ``3 file(s) read`` or ``id up to 250``."""
    if "files" in cursor:
        return f"{len(cursor['files'])} file(s) read"
    name = cursor.get("column") or cursor.get("field")
    if name:
        return f"{name} up to {cursor.get('value')}"
    return "everything (no cursor column)" if not cursor else str(dict(cursor))
