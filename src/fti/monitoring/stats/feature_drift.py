"""The drift of one column: the methods (statistical tests and distances) with their default thresholds, the
result of a column's check (:class:`FeatureDrift`), and the scoring of one encoded column by any method.

A test's score is a p-value (the column drifts when it falls below the threshold), a distance's the distance
(it drifts at or above the threshold): :data:`METHOD_KINDS` says which is which, and every result carries it as
``method_kind``, so no report or chart keeps its own list of the tests. Next to the score, a result holds both
distributions in about 20 bins of equal reference share, for charts.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fti.monitoring.stats.codes import ColumnCodes, NumericCodes
from fti.monitoring.stats.columns import OTHER, ColumnKind
from fti.monitoring.stats.divergence import (
    chisquare_test,
    jensenshannon_distance,
    ks_test,
    population_stability_index,
    wasserstein_binned,
)
from fti.monitoring.stats.reference import BinnedValues, CategoricalProfile, NumericProfile

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS_BY_KIND",
    "METHOD_KINDS",
    "DriftMethod",
    "FeatureDrift",
    "MethodKind",
    "score_column",
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
#: the methods that apply to each kind of column
METHODS_BY_KIND: Mapping[ColumnKind, frozenset[str]] = {
    "numeric": frozenset({"ks", "wasserstein", "jensenshannon", "psi"}),
    "categorical": frozenset({"chisquare", "jensenshannon", "psi"}),
}
#: Evidently's floor for the std that normalises the Wasserstein distance
_MIN_STD = 0.001
_DISPLAY_BINS = 20


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


def score_column(
    codes: ColumnCodes, start: int, stop: int, method: DriftMethod, threshold: float, *, psi_bins: int = 10
) -> FeatureDrift:
    """The drift of the rows ``start:stop`` of one encoded column by ``method`` against ``threshold``; numeric
    columns compare over ``psi_bins`` bins of equal reference share for PSI."""
    if isinstance(codes, NumericCodes):
        return _numeric_drift(codes, start, stop, method, threshold, psi_bins)
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
