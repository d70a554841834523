"""Ranking metrics for many bootstrap weightings at once, and the A/B comparison of two rankers by a bootstrap over
requests."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from fti.errors import ValidationError
from fti.monitoring.stats.ranking import compare_ranking, ranking_metric


@pytest.mark.parametrize(
    ("metric", "reference"), [("roc_auc", roc_auc_score), ("average_precision", average_precision_score)]
)
def test_each_weighting_equals_scikit_learn_with_sample_weights_ties_included(metric: str, reference: object) -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(400) < 0.08).astype(int)
    scores = np.round(rng.random(400) + 0.4 * labels, 1)  # rounded: many tied scores
    weights = rng.integers(0, 3, (5, 400))
    got = ranking_metric(metric, scores, labels, weights)
    assert got.shape == (5,)
    for row, value in zip(weights, got, strict=True):
        assert value == pytest.approx(reference(labels, scores, sample_weight=row), abs=1e-12)  # type: ignore[operator]
    assert ranking_metric(metric, scores, labels)[0] == pytest.approx(reference(labels, scores), abs=1e-12)  # type: ignore[operator]


def test_a_weighting_without_positives_has_no_value() -> None:
    scores, labels = np.array([0.2, 0.9, 0.4]), np.array([0, 1, 0])
    value = ranking_metric("average_precision", scores, labels, np.array([[1, 0, 2], [1, 1, 1]]))
    assert np.isnan(value[0]) and value[1] == pytest.approx(1.0)


def _ranker(rng: np.random.Generator, rows: int, separation: float) -> tuple[np.ndarray, np.ndarray]:
    labels = (rng.random(rows) < 0.1).astype(float)
    return rng.normal(0, 1, rows) + separation * labels, labels


def test_a_better_ranker_wins_and_an_equal_one_does_not() -> None:
    rng = np.random.default_rng(5)
    control, better, same = _ranker(rng, 800, 0.5), _ranker(rng, 800, 2.0), _ranker(rng, 800, 0.5)
    for metric in ("roc_auc", "average_precision"):
        decision = compare_ranking(control, better, metric=metric, names=("m:1", "m:2"))
        assert decision.test == "bootstrap" and decision.metric == metric
        assert decision.is_significant and decision.winner == "m:2" and decision.effect > 0
        assert decision.interval[0] > 0 and decision.samples == (800, 800)
        tie = compare_ranking(control, same, metric=metric, names=("m:1", "m:3"))
        assert tie.winner is None and tie.p_value > 0.05 and tie.interval[0] < 0 < tie.interval[1]


def test_the_sample_size_for_an_mde_and_the_seed_make_the_decision_reproducible() -> None:
    rng = np.random.default_rng(6)
    control, better = _ranker(rng, 300, 0.5), _ranker(rng, 300, 1.5)
    first = compare_ranking(control, better, mde=0.001, seed=4)
    assert first.samples_needed is not None and first.samples_needed > 300
    assert first.winner is None  # significant, but the sample planned for so small an effect is not reached
    assert compare_ranking(control, better, mde=0.001, seed=4) == first
    # the rows in another order (a query on several threads) make the same decision
    shuffled = np.random.default_rng(9).permutation(300)
    assert compare_ranking(control, (better[0][shuffled], better[1][shuffled]), mde=0.001, seed=4) == first


def test_a_variant_with_one_class_only_is_refused_with_the_reason() -> None:
    scores = np.array([0.1, 0.2, 0.3])
    with pytest.raises(
        ValidationError, match="roc_auc of 'm:2' is undefined: its 3 labelled requests hold 0 positives"
    ):
        compare_ranking((scores, np.array([0, 1, 0])), (scores, np.zeros(3)), names=("m:1", "m:2"))
    with pytest.raises(ValidationError, match="Unknown ranking metric 'auc'"):
        ranking_metric("auc", scores, np.array([0, 1, 0]))
