"""Data quality of live inputs against the reference profile: schema, null rates, ranges and categories.

Each problem is a :class:`QualityFinding` naming the column, the kind of problem, how many rows it touches
and what to do about it. Checks read the current data once per column, vectorized.

Example:
    >>> report = check_quality(profile, live_df, config=QualityConfig(ignore=("ts",)))  # doctest: +SKIP
    >>> [finding.message for finding in report.findings]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from fti.errors import ValidationError
from fti.monitoring.stats.columns import TableLike, as_table, category_counts, null_count, numeric_values, type_family
from fti.monitoring.stats.reference import CategoricalProfile, ColumnProfile, NumericProfile, ReferenceProfile

__all__ = ["FindingKind", "QualityConfig", "QualityFinding", "QualityReport", "check_quality"]

FindingKind = Literal["missing_column", "extra_column", "wrong_type", "null_rate", "out_of_range", "unseen_category"]

_SHOWN_VALUES = 5


@dataclass(frozen=True, slots=True)
class QualityFinding:
    """One data-quality problem: its column, kind, the rows it touches (count and share) and a message."""

    column: str
    kind: FindingKind
    count: int
    rate: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "column": self.column,
            "kind": self.kind,
            "count": self.count,
            "rate": self.rate,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class QualityConfig:
    """What counts as a problem.

    Attributes:
        null_rate_tolerance: a column's null rate may exceed the reference's by this much.
        out_of_range_rate: share of values outside the reference min/max tolerated (0: any is reported).
        unseen_category_rate: share of values never seen in the reference tolerated (0: any is reported).
        ignore: columns left out of every check (request ids, timestamps, labels).
    """

    null_rate_tolerance: float = 0.05
    out_of_range_rate: float = 0.0
    unseen_category_rate: float = 0.0
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("null_rate_tolerance", "out_of_range_rate", "unseen_category_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValidationError(f"QualityConfig.{name} must be a share in [0, 1], got {value}.")


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The findings of one data-quality check over ``rows`` current rows."""

    rows: int
    findings: tuple[QualityFinding, ...]

    def count(self, kind: FindingKind | None = None) -> int:
        """The number of findings, of one kind or of all."""
        return sum(1 for finding in self.findings if kind is None or finding.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"rows": self.rows, "findings": [finding.to_dict() for finding in self.findings]}


def check_quality(
    reference: ReferenceProfile,
    current: TableLike,
    *,
    columns: Iterable[str] | None = None,
    config: QualityConfig | None = None,
) -> QualityReport:
    """Check the current data against the reference's schema and statistics.

    Args:
        reference: the reference profile.
        current: an Arrow table or a pandas/Polars DataFrame.
        columns: the profiled columns to check (default: all); the schema check always sees every column.
        config: tolerances and ignored columns.

    Returns:
        The findings, schema problems first, then per column in reference order.
    """
    config = config or QualityConfig()
    table = as_table(current, what="current data")
    ignored = set(config.ignore)
    findings = _schema_findings(reference, table, ignored)
    broken = {finding.column for finding in findings}
    names = list(reference.columns) if columns is None else list(columns)
    for name in names:
        if name in ignored or name in broken:
            continue
        findings.extend(_column_findings(reference[name], table.column(name), table.num_rows, config))
    return QualityReport(rows=table.num_rows, findings=tuple(findings))


def _schema_findings(reference: ReferenceProfile, table: pa.Table, ignored: set[str]) -> list[QualityFinding]:
    rows = table.num_rows
    present = set(table.column_names)
    findings = [
        QualityFinding(
            name,
            "missing_column",
            rows,
            1.0,
            f"Column '{name}' is missing from the current data: log it as in training.",
        )
        for name in reference.columns
        if name not in present and name not in ignored
    ]
    findings.extend(
        QualityFinding(
            name,
            "extra_column",
            rows,
            1.0,
            f"Column '{name}' is not in the reference: add it to the reference or to QualityConfig.ignore.",
        )
        for name in table.column_names
        if name not in reference.schema and name not in ignored
    )
    for name, profile in reference.columns.items():
        if name in ignored or name not in present:
            continue
        expected, actual = _family_of(profile.dtype), type_family(table.schema.field(name).type)
        if expected != actual:
            findings.append(
                QualityFinding(
                    name,
                    "wrong_type",
                    rows,
                    1.0,
                    f"Column '{name}' is {table.schema.field(name).type} ({actual}), but training had {profile.dtype} "
                    f"({expected}): cast it before logging.",
                )
            )
    return findings


def _family_of(dtype: str) -> str:
    if dtype.startswith(("timestamp", "date", "time", "duration")):
        return "temporal"
    if dtype.startswith("dictionary<values="):
        return _family_of(dtype.removeprefix("dictionary<values=").split(",", 1)[0])
    try:
        return type_family(pa.type_for_alias(dtype))
    except ValueError:
        return "numeric" if dtype.startswith("decimal") else "other"


def _column_findings(
    profile: ColumnProfile, column: pa.ChunkedArray, rows: int, config: QualityConfig
) -> list[QualityFinding]:
    findings: list[QualityFinding] = []
    name = profile.name
    if rows == 0:
        return findings
    nulls = null_count(column)
    reference_rate = profile.nulls / max(profile.nulls + profile.count, 1)
    if nulls and nulls / rows > reference_rate + config.null_rate_tolerance:
        findings.append(
            QualityFinding(
                name,
                "null_rate",
                nulls,
                nulls / rows,
                f"Column '{name}' is null in {nulls / rows:.1%} of rows (training: {reference_rate:.1%}): "
                "check the upstream source or the feature lookup.",
            )
        )
    if isinstance(profile, NumericProfile):
        findings.extend(_range_findings(profile, numeric_values(column), rows, config))
    else:
        findings.extend(_category_findings(profile, category_counts(column), rows, config))
    return findings


def _range_findings(
    profile: NumericProfile, values: np.ndarray[Any, Any], rows: int, config: QualityConfig
) -> list[QualityFinding]:
    below = int(np.count_nonzero(values < profile.min))
    above = int(np.count_nonzero(values > profile.max))
    count = below + above
    if not count or count / rows <= config.out_of_range_rate:
        return []
    low = float(values.min()) if below else profile.min
    high = float(values.max()) if above else profile.max
    return [
        QualityFinding(
            profile.name,
            "out_of_range",
            count,
            count / rows,
            f"Column '{profile.name}' has {count} values outside the training range [{profile.min:.6g}, "
            f"{profile.max:.6g}] ({below} below, {above} above; seen {low:.6g} to {high:.6g}): "
            "check the inputs or retrain on data that covers them.",
        )
    ]


def _category_findings(
    profile: CategoricalProfile, counts: dict[str, int], rows: int, config: QualityConfig
) -> list[QualityFinding]:
    if not profile.is_complete:  # the reference kept only its top values: "unseen" cannot be told apart
        return []
    known = set(profile.categories)
    unseen = sorted(((value, count) for value, count in counts.items() if value not in known), key=lambda x: -x[1])
    total = sum(count for _, count in unseen)
    if not total or total / rows <= config.unseen_category_rate:
        return []
    shown = ", ".join(repr(value) for value, _ in unseen[:_SHOWN_VALUES])
    more = f" and {len(unseen) - _SHOWN_VALUES} more" if len(unseen) > _SHOWN_VALUES else ""
    return [
        QualityFinding(
            profile.name,
            "unseen_category",
            total,
            total / rows,
            f"Column '{profile.name}' has {total} values never seen in training ({shown}{more}): "
            "map them to known categories or retrain with them.",
        )
    ]
