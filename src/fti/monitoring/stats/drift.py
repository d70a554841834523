"""Per-feature and dataset drift of current data against a reference profile.

Defaults follow Evidently, so its users read the results the same way:

============================  ==========================  ==========================
reference rows                numeric column              categorical column
============================  ==========================  ==========================
at most 1,000                 KS test, drift if p < 0.05  chi-square, drift if p < 0.05
more than 1,000               Wasserstein / ref std,      Jensen-Shannon distance,
                              drift if >= 0.1             drift if >= 0.1
============================  ==========================  ==========================

PSI is available for both kinds (drift if >= 0.1). Every method and threshold can be set per feature with
:class:`DriftConfig`; the dataset drifts when at least ``drift_share`` (50%) of its features drift. The
prediction column, when named, is checked like a feature and reported on its own.

The current data is read once per column and binned on the reference's edges (numbers) or counted per
category, so a check costs one vectorized pass over the current data and nothing over the reference.

Example:
    >>> profile = build_reference(training_df)  # doctest: +SKIP
    >>> report = detect_drift(profile, live_df, prediction="score")  # doctest: +SKIP
    >>> report.dataset_drift, report.drifted_features  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, get_args

import pyarrow as pa

from fti.errors import ValidationError
from fti.monitoring.stats.codes import ColumnCodes, encode_column
from fti.monitoring.stats.columns import ColumnKind, TableLike, as_table
from fti.monitoring.stats.feature_drift import (
    DEFAULT_THRESHOLDS,
    METHODS_BY_KIND,
    DriftMethod,
    FeatureDrift,
    score_column,
)
from fti.monitoring.stats.reference import ColumnProfile, ReferenceProfile

__all__ = [
    "DriftConfig",
    "DriftReport",
    "FeatureDriftConfig",
    "check_column",
    "checked_columns",
    "detect_drift",
    "encode_columns",
    "report_rows",
    "score_codes",
]


@dataclass(frozen=True, slots=True)
class FeatureDriftConfig:
    """The method and threshold of one feature; ``None`` keeps the default."""

    method: DriftMethod | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """How drift is decided.

    Attributes:
        numeric_method: method for every numeric feature (default: by reference size).
        categorical_method: method for every categorical feature (default: by reference size).
        threshold: threshold for every feature (default: the method's, see :data:`DEFAULT_THRESHOLDS`).
        features: per-feature overrides, by column name.
        drift_share: the dataset drifts when at least this share of its features drift.
        small_reference_rows: references of at most this many rows use the statistical tests.
        psi_bins: bins of equal reference share that PSI compares over, for numeric features.
    """

    numeric_method: DriftMethod | None = None
    categorical_method: DriftMethod | None = None
    threshold: float | None = None
    features: Mapping[str, FeatureDriftConfig] = field(default_factory=dict)
    drift_share: float = 0.5
    small_reference_rows: int = 1000
    psi_bins: int = 10

    def __post_init__(self) -> None:
        if not 0.0 < self.drift_share <= 1.0:
            raise ValidationError(f"drift_share must be in (0, 1], got {self.drift_share}. Use e.g. 0.5.")
        methods = [self.numeric_method, self.categorical_method, *(item.method for item in self.features.values())]
        for method in methods:
            if method is not None and method not in get_args(DriftMethod):
                raise ValidationError(
                    f"Unknown drift method {method!r}. Use one of: {', '.join(get_args(DriftMethod))}."
                )

    def resolve(self, column: str, kind: ColumnKind, reference_rows: int) -> tuple[DriftMethod, float]:
        """The method and threshold used for ``column`` of ``kind`` against a reference of that many rows."""
        override = self.features.get(column, FeatureDriftConfig())
        default: DriftMethod
        if kind == "numeric":
            default = "ks" if reference_rows <= self.small_reference_rows else "wasserstein"
            method = override.method or self.numeric_method or default
        else:
            default = "chisquare" if reference_rows <= self.small_reference_rows else "jensenshannon"
            method = override.method or self.categorical_method or default
        if method not in METHODS_BY_KIND[kind]:
            raise ValidationError(
                f"Drift method {method!r} does not apply to {kind} column '{column}'. "
                f"Use one of: {', '.join(sorted(METHODS_BY_KIND[kind]))}."
            )
        threshold = override.threshold if override.threshold is not None else self.threshold
        return method, DEFAULT_THRESHOLDS[method] if threshold is None else threshold


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Drift of every checked feature, the share that drifted, and whether the dataset drifted.

    ``window`` names the slice of the current data when the report is one of a series (see
    :func:`fti.monitoring.stats.windows.drift_over_time`).
    """

    features: Mapping[str, FeatureDrift]
    share_drifted: float
    drift_share: float
    dataset_drift: bool
    rows: int
    prediction: FeatureDrift | None = None
    window: Mapping[str, Any] | None = None

    @property
    def drifted_features(self) -> list[str]:
        """The names of the features that drifted, in column order."""
        return [name for name, result in self.features.items() if result.drifted]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "rows": self.rows,
            "dataset_drift": self.dataset_drift,
            "share_drifted": self.share_drifted,
            "drift_share": self.drift_share,
            "drifted_features": self.drifted_features,
            "features": {name: result.to_dict() for name, result in self.features.items()},
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "window": None if self.window is None else dict(self.window),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """Restore a report written by :meth:`to_dict` (a stored report can be charted again)."""
        prediction = data.get("prediction")
        return cls(
            features={name: FeatureDrift.from_dict(item) for name, item in data["features"].items()},
            share_drifted=float(data["share_drifted"]),
            drift_share=float(data["drift_share"]),
            dataset_drift=bool(data["dataset_drift"]),
            rows=int(data["rows"]),
            prediction=None if prediction is None else FeatureDrift.from_dict(prediction),
            window=data.get("window"),
        )


def detect_drift(
    reference: ReferenceProfile,
    current: TableLike,
    *,
    columns: Iterable[str] | None = None,
    prediction: str | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Check every feature of ``current`` against the reference profile.

    Args:
        reference: the reference profile (see :func:`fti.monitoring.stats.reference.build_reference`).
        current: the current data: an Arrow table or a pandas/Polars DataFrame.
        columns: the features to check; by default every profiled column but the prediction.
        prediction: the prediction column, checked like a feature and reported as ``prediction``.
        config: methods, thresholds and the dataset drift share.

    Returns:
        The drift report.

    Raises:
        ValidationError: a feature is missing from the current data or from the reference, or a method
            does not apply to a feature.
    """
    config = config or DriftConfig()
    table = as_table(current, what="current data")
    names, wanted = checked_columns(reference, table, columns, prediction, config)
    codes = encode_columns(reference, table, wanted)
    return report_rows(reference, codes, 0, table.num_rows, columns=names, prediction=prediction, config=config)


def checked_columns(
    reference: ReferenceProfile,
    table: pa.Table,
    columns: Iterable[str] | None,
    prediction: str | None,
    config: DriftConfig,
) -> tuple[list[str], list[str]]:
    """The features to check and every column to read (the features, then the prediction), validated.

    Raises:
        ValidationError: a column is missing from the current data or from the reference, or a method does
            not apply to a column.
    """
    names = [name for name in reference.columns if name != prediction] if columns is None else list(columns)
    wanted = [*names, prediction] if prediction is not None else names
    missing = [name for name in wanted if name not in table.column_names]
    if missing:
        raise ValidationError(
            f"Current data has no column {', '.join(repr(name) for name in missing)} "
            f"(columns: {', '.join(table.column_names)}). Log every feature the reference profiles."
        )
    for name in wanted:  # a method that does not apply fails before any data is read
        config.resolve(name, reference[name].kind, reference.rows)
    return names, wanted


def encode_columns(reference: ReferenceProfile, table: pa.Table, names: Iterable[str]) -> dict[str, ColumnCodes]:
    """The codes of each named column of ``table`` against its reference profile (see :mod:`.codes`).

    Raises:
        ValidationError: a column is not in the reference, or cannot be read as its reference's kind.
    """
    profiles = [reference[name] for name in names]
    # numpy and Arrow release the GIL in their kernels, so columns are encoded side by side
    with ThreadPoolExecutor(max_workers=min(len(profiles), os.cpu_count() or 1) or 1) as pool:
        encoded = list(pool.map(lambda profile: _encode(profile, table.column(profile.name)), profiles))
    return {profile.name: item for profile, item in zip(profiles, encoded, strict=True)}


def _encode(profile: ColumnProfile, column: pa.ChunkedArray | pa.Array) -> ColumnCodes:
    try:
        return encode_column(profile, column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise ValidationError(
            f"Column '{profile.name}' of the current data is {column.type}, which cannot be read as {profile.kind} "
            f"like the reference's {profile.dtype}: cast it before logging ({exc})."
        ) from exc


def report_rows(
    reference: ReferenceProfile,
    codes: Mapping[str, ColumnCodes],
    start: int,
    stop: int,
    *,
    columns: Iterable[str],
    prediction: str | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """The drift report of the rows ``start:stop`` of columns already encoded by :func:`encode_columns`."""
    config = config or DriftConfig()
    results = {name: score_codes(codes[name], start, stop, reference.rows, config) for name in columns}
    drifted = sum(result.drifted for result in results.values())
    share = drifted / len(results) if results else 0.0
    predicted = None
    if prediction is not None:
        predicted = score_codes(codes[prediction], start, stop, reference.rows, config)
    return DriftReport(
        features=results,
        share_drifted=share,
        drift_share=config.drift_share,
        dataset_drift=bool(results) and share >= config.drift_share,
        rows=stop - start,
        prediction=predicted,
    )


def check_column(
    profile: ColumnProfile, column: pa.ChunkedArray | pa.Array, reference_rows: int, config: DriftConfig
) -> FeatureDrift:
    """The drift of one current column against its reference profile."""
    return score_codes(_encode(profile, column), 0, len(column), reference_rows, config)


def score_codes(codes: ColumnCodes, start: int, stop: int, reference_rows: int, config: DriftConfig) -> FeatureDrift:
    """The drift of the rows ``start:stop`` of one encoded column, by the method and threshold ``config`` gives it."""
    profile = codes.profile
    method, threshold = config.resolve(profile.name, profile.kind, reference_rows)
    return score_column(codes, start, stop, method, threshold, psi_bins=config.psi_bins)
