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

import itertools
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pyarrow as pa

from fti.errors import ValidationError
from fti.monitoring.stats.codes import ColumnCodes, NumericCodes, encode_column
from fti.monitoring.stats.columns import OTHER, ColumnKind, as_table
from fti.monitoring.stats.divergence import (
    chisquare_test,
    jensenshannon_distance,
    ks_test,
    population_stability_index,
    wasserstein_binned,
)
from fti.monitoring.stats.reference import (
    BinnedValues,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHOD_KINDS",
    "DriftConfig",
    "DriftMethod",
    "DriftReport",
    "FeatureDrift",
    "FeatureDriftConfig",
    "MethodKind",
    "detect_drift",
]

DriftMethod = Literal["ks", "chisquare", "wasserstein", "jensenshannon", "psi"]
MethodKind = Literal["test", "distance"]

#: Threshold of each method: a p-value bound for the tests, a distance bound for the others.
DEFAULT_THRESHOLDS: Mapping[DriftMethod, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}
#: Whether a method is a statistical test (its score a p-value: drift below the threshold) or a distance (drift at
#: or above it): what reports and charts read, so that no reader keeps its own list of the tests.
METHOD_KINDS: Mapping[DriftMethod, MethodKind] = {
    "ks": "test",
    "chisquare": "test",
    "wasserstein": "distance",
    "jensenshannon": "distance",
    "psi": "distance",
}
_TESTS: frozenset[str] = frozenset(method for method, kind in METHOD_KINDS.items() if kind == "test")
_VALID: Mapping[ColumnKind, frozenset[str]] = {
    "numeric": frozenset({"ks", "wasserstein", "jensenshannon", "psi"}),
    "categorical": frozenset({"chisquare", "jensenshannon", "psi"}),
}
#: Evidently's floor for the std that normalises the Wasserstein distance
_MIN_STD = 0.001
_DISPLAY_BINS = 20


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
        if method not in _VALID[kind]:
            raise ValidationError(
                f"Drift method {method!r} does not apply to {kind} column '{column}'. "
                f"Use one of: {', '.join(sorted(_VALID[kind]))}."
            )
        threshold = override.threshold if override.threshold is not None else self.threshold
        return method, DEFAULT_THRESHOLDS[method] if threshold is None else threshold


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """The drift of one column.

    ``score`` is the p-value for the tests (``method_kind`` ``"test"``: ks, chisquare; drift when below the
    threshold) and the distance for the others (``"distance"``: drift when at or above it). ``bins`` with
    ``reference`` and ``current`` frequencies describe both distributions for charts (at most about 20 bins).
    """

    column: str
    kind: ColumnKind
    method: DriftMethod
    score: float
    threshold: float
    drifted: bool
    current_count: int
    statistic: float | None = None
    bins: tuple[str, ...] = ()
    reference: tuple[float, ...] = ()
    current: tuple[float, ...] = ()

    @property
    def method_kind(self) -> MethodKind:
        """``"test"`` when ``score`` is a p-value (drift below the threshold), ``"distance"`` otherwise."""
        return METHOD_KINDS[self.method]

    @property
    def is_test(self) -> bool:
        """Whether ``score`` is a p-value (drift below the threshold) rather than a distance."""
        return self.method_kind == "test"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "method_kind": self.method_kind,
            "score": _finite(self.score),
            "statistic": None if self.statistic is None else _finite(self.statistic),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "current_count": self.current_count,
            "bins": list(self.bins),
            "reference": list(self.reference),
            "current": list(self.current),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureDrift:
        """Restore a result written by :meth:`to_dict`."""
        statistic = data.get("statistic")
        return cls(
            column=data["column"],
            kind=data["kind"],
            method=data["method"],
            score=float(data["score"]),
            threshold=float(data["threshold"]),
            drifted=bool(data["drifted"]),
            current_count=int(data["current_count"]),
            statistic=None if statistic is None else float(statistic),
            bins=tuple(data.get("bins", ())),
            reference=tuple(float(value) for value in data.get("reference", ())),
            current=tuple(float(value) for value in data.get("current", ())),
        )


def _finite(value: float) -> float | str:
    return value if np.isfinite(value) else str(value)


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
    current: Any,
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
    """The drift of the rows ``start:stop`` of one encoded column."""
    profile = codes.profile
    method, threshold = config.resolve(profile.name, profile.kind, reference_rows)
    if isinstance(codes, NumericCodes):
        return _numeric_drift(codes, start, stop, method, threshold, config.psi_bins)
    return _categorical_drift(codes.profile, codes.counts(start, stop), method, threshold)


def _decide(method: DriftMethod, score: float, threshold: float) -> bool:
    return score < threshold if method in _TESTS else score >= threshold


def _numeric_drift(
    codes: NumericCodes, start: int, stop: int, method: DriftMethod, threshold: float, psi_bins: int
) -> FeatureDrift:
    profile = codes.profile
    binned = codes.binned(start, stop)
    count = binned.total
    statistic: float | None = None
    if count == 0:
        score = 1.0 if method in _TESTS else 0.0
    elif method == "ks":
        statistic, score = ks_test(profile.sample, codes.present(start, stop))
    else:
        score = _binned_score(profile, binned, method, psi_bins)
    labels, shown_reference, shown_current = _numeric_display(profile, binned)
    return FeatureDrift(
        column=profile.name,
        kind="numeric",
        method=method,
        score=float(score),
        threshold=threshold,
        drifted=bool(count) and _decide(method, float(score), threshold),
        current_count=count,
        statistic=statistic,
        bins=labels,
        reference=_shares(shown_reference),
        current=_shares(shown_current),
    )


def _binned_score(profile: NumericProfile, binned: BinnedValues, method: DriftMethod, psi_bins: int) -> float:
    """Wasserstein (normed), Jensen-Shannon or PSI of the current values binned on the reference's edges."""
    reference = np.asarray(profile.counts, dtype=np.float64)
    counts, below, above = binned.counts, binned.below, binned.above
    if method == "wasserstein":
        means = binned.sums / np.maximum(counts, 1)
        distance = wasserstein_binned(
            profile.edges,
            (reference, profile.means),
            (counts, means),
            below=(below, below * profile.min - binned.below_sum),
            above=(above, binned.above_sum - above * profile.max),
        )
        return distance / max(profile.std, _MIN_STD)
    if method == "jensenshannon":
        # [below min, inner bins..., above max]: the reference has nothing outside its range
        return jensenshannon_distance(
            np.concatenate([[0.0], reference, [0.0]]), np.concatenate([[below], counts, [above]])
        )
    groups = _equal_share_groups(reference, psi_bins)
    return population_stability_index(
        _group_sums(reference, groups), _group_sums(counts.astype(np.float64), groups, below=below, above=above)
    )


def _numeric_display(
    profile: NumericProfile, binned: BinnedValues
) -> tuple[tuple[str, ...], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """About 20 bins of equal reference share for charts, plus the current values outside the range."""
    edges, reference = profile.edges, np.asarray(profile.counts, dtype=np.float64)
    display = _equal_share_groups(reference, _DISPLAY_BINS)
    labels = [f"{edges[start]:.4g}..{edges[stop]:.4g}" for start, stop in itertools.pairwise(display)]
    shown_reference = _group_sums(reference, display)
    shown_current = _group_sums(binned.counts.astype(np.float64), display)
    if binned.below:
        labels.insert(0, f"< {profile.min:.4g}")
        shown_reference = np.concatenate([[0.0], shown_reference])
        shown_current = np.concatenate([[float(binned.below)], shown_current])
    if binned.above:
        labels.append(f"> {profile.max:.4g}")
        shown_reference = np.concatenate([shown_reference, [0.0]])
        shown_current = np.concatenate([shown_current, [float(binned.above)]])
    return tuple(labels), shown_reference, shown_current


def _equal_share_groups(reference: np.ndarray[Any, Any], groups: int) -> np.ndarray[Any, Any]:
    """Edge indices that cut the reference bins into about ``groups`` groups of equal reference share."""
    total = reference.sum()
    cumulative = np.cumsum(reference) / total if total else np.linspace(0, 1, reference.size)
    cuts = np.searchsorted(cumulative, np.linspace(0.0, 1.0, groups + 1)[1:-1], side="left") + 1
    return np.unique(np.concatenate([[0], np.clip(cuts, 1, reference.size), [reference.size]]))


def _group_sums(
    counts: np.ndarray[Any, Any], bounds: np.ndarray[Any, Any], *, below: int = 0, above: int = 0
) -> np.ndarray[Any, Any]:
    sums = np.add.reduceat(counts, bounds[:-1]) if counts.size else np.zeros(0)
    if sums.size:
        sums[0] += below
        sums[-1] += above
    return np.asarray(sums, dtype=np.float64)


def _shares(counts: np.ndarray[Any, Any]) -> tuple[float, ...]:
    total = counts.sum()
    return tuple(float(value) for value in (counts / total if total else counts))


def _categorical_drift(
    profile: CategoricalProfile, current: np.ndarray[Any, Any], method: DriftMethod, threshold: float
) -> FeatureDrift:
    """Drift of the current counts per listed category (and one for every other value) against the reference."""
    reference = np.concatenate([np.asarray(profile.counts, dtype=np.float64), [float(profile.other)]])
    total = int(current.sum())
    statistic: float | None = None
    if total == 0:
        score = 1.0 if method in _TESTS else 0.0
    elif method == "chisquare":
        statistic, score = chisquare_test(reference, current)
    elif method == "jensenshannon":
        score = jensenshannon_distance(reference, current)
    else:
        score = population_stability_index(reference, current)
    labels = list(profile.categories[:_DISPLAY_BINS])
    shown = len(labels)
    shown_reference, shown_current = reference[:shown], current[:shown]
    rest_reference, rest_current = reference[shown:].sum(), current[shown:].sum()
    if rest_reference or rest_current:
        labels.append(OTHER)
        shown_reference = np.concatenate([shown_reference, [rest_reference]])
        shown_current = np.concatenate([shown_current, [rest_current]])
    return FeatureDrift(
        column=profile.name,
        kind="categorical",
        method=method,
        score=float(score),
        threshold=threshold,
        drifted=bool(total) and _decide(method, float(score), threshold),
        current_count=total,
        statistic=statistic,
        bins=tuple(labels),
        reference=_shares(shown_reference),
        current=_shares(shown_current),
    )
