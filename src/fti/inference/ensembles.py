"""Ensembles: model versions that answer every row together, combined by mean, weighted mean, vote or stacking.

A deployment with ``combine`` serves its variants as one model:

* ``mean`` / ``weighted_mean``: regressors' predictions, or classifiers' class scores (soft voting),
  averaged, weighted by the variants' shares for ``weighted_mean``; a classifier ensemble predicts the
  class with the highest mean score.
* ``vote``: classifiers only; each member's predicted class is a vote, the scores are the share of votes
  per class, and the prediction is the class with most votes (the first in class order on a tie).
* ``stacking``: the stacker model reads the members' outputs, in member order: a regressor's prediction,
  a binary classifier's score of its second class, a multiclass classifier's score of every class (as
  scikit-learn's ``StackingClassifier`` does); its input columns are taken by position.

Members read the same input columns (a deployment is checked for that before it is written). The
ensemble is logged and counted under its first member's name and version, with the deployment's
``combine`` and references as the variant; monitoring reads it like any deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fti.core.deployments import Combine
from fti.errors import ValidationError
from fti.inference.outputs import labels_of
from fti.inference.ports import ServedClassifier, ServedModel

if TYPE_CHECKING:
    from fti.registry.version import ModelVersion

__all__ = ["EnsembleClassifier", "EnsembleModel", "build_ensemble", "check_ensemble", "stacked_width"]


def stacked_width(classes: Sequence[Any] | None) -> int:
    """Columns one member gives a stacker: 1 for a regressor or binary classifier, else one per class."""
    return 1 if classes is None or len(classes) == 2 else len(classes)


class EnsembleModel:
    """Members (and a stacker) answering as one served model (regressors, or a stacker that regresses)."""

    def __init__(
        self,
        deployment: str,
        combine: Combine,
        members: Sequence[ServedModel],
        weights: Sequence[float],
        stacker: ServedModel | None,
    ) -> None:
        self._deployment = deployment
        self._combine = combine
        self._members = tuple(members)
        weights_array = np.asarray(weights if combine == "weighted_mean" else [1.0] * len(members), dtype=np.float64)
        self._weights = weights_array / weights_array.sum()
        self._stacker = stacker
        self._columns = [column for column, _ in members[0].input_schema]
        self._member_classes = _member_classes(deployment, members)
        if combine == "vote" and self._member_classes is None:
            raise ValidationError(f"Deployment '{deployment}' combines by vote, which needs classifiers as members.")
        if stacker is not None:
            _check_stacker(deployment, stacker, members, self._member_classes)

    @property
    def name(self) -> str:
        """The first member's name (the ensemble is logged under it)."""
        return self._members[0].name

    @property
    def version(self) -> int:
        """The first member's version."""
        return self._members[0].version

    @property
    def input_schema(self) -> Sequence[tuple[str, str]]:
        """The members' inputs."""
        return self._members[0].input_schema

    @property
    def output_name(self) -> str:
        """The stacker's output, else the first member's."""
        return (self._stacker or self._members[0]).output_name

    @property
    def components(self) -> tuple[ServedModel, ...]:
        """The members, then the stacker."""
        return (*self._members, *((self._stacker,) if self._stacker is not None else ()))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The combined prediction per row."""
        if self._stacker is not None:
            return np.asarray(self._stacker.predict(self._stacked(frame)))
        answers = np.column_stack([np.asarray(member.predict(self._inputs(member, frame))) for member in self._members])
        return np.asarray(answers.astype(np.float64) @ self._weights)

    def _inputs(self, member: ServedModel, frame: pd.DataFrame) -> pd.DataFrame:
        columns = [column for column, _ in member.input_schema]
        return frame if columns == self._columns or columns == list(frame.columns) else frame[columns]

    def _scores(self, frame: pd.DataFrame) -> list[np.ndarray]:
        members: list[Any] = list(self._members)
        return [np.asarray(member.predict_proba(self._inputs(member, frame))) for member in members]

    def _stacked(self, frame: pd.DataFrame) -> pd.DataFrame:
        assert self._stacker is not None
        if self._member_classes is None:
            parts = [
                np.asarray(member.predict(self._inputs(member, frame)), dtype=np.float64) for member in self._members
            ]
        else:
            scores = self._scores(frame)
            parts = [score[:, 1] if score.shape[1] == 2 else score for score in scores]
        names = [column for column, _ in self._stacker.input_schema]
        return pd.DataFrame(np.column_stack(parts), columns=names)


class EnsembleClassifier(EnsembleModel):
    """An ensemble of classifiers (or a classifier stacker): it also gives class scores."""

    @property
    def classes(self) -> Sequence[Any]:
        """The stacker's classes, else the members' (all equal)."""
        if isinstance(self._stacker, ServedClassifier):
            return self._stacker.classes
        assert self._member_classes is not None
        return self._member_classes

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The class with the highest combined score."""
        return labels_of(self.predict_proba(frame), self.classes)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The combined class scores, ``[rows, classes]``."""
        if isinstance(self._stacker, ServedClassifier):
            return np.asarray(self._stacker.predict_proba(self._stacked(frame)), dtype=np.float64)
        scores = self._scores(frame)
        if self._combine != "vote":
            return np.asarray(np.tensordot(self._weights, np.stack(scores), axes=1))
        votes = np.stack([np.argmax(score, axis=1) for score in scores], axis=1)
        counts = np.stack([(votes == index).sum(axis=1) for index in range(len(self.classes))], axis=1)
        return np.asarray(counts / len(self._members), dtype=np.float64)


def build_ensemble(
    deployment: str,
    combine: Combine,
    members: Sequence[ServedModel],
    weights: Sequence[float],
    stacker: ServedModel | None,
) -> EnsembleModel:
    """The ensemble of ``members``: a classifier when they (or the stacker) give class scores.

    Raises:
        ValidationError: members mixing classifiers and regressors, classifiers of different classes, a
            vote of regressors, or a stacker reading another number of columns than the members give.
    """
    classifies = isinstance(stacker, ServedClassifier) if stacker is not None else _all_classifiers(members)
    cls = EnsembleClassifier if classifies else EnsembleModel
    return cls(deployment, combine, members, weights, stacker)


def check_ensemble(
    deployment: str, combine: Combine, members: Sequence[ModelVersion], stacker: ModelVersion | None
) -> tuple[Any, ...] | None:
    """Check registered versions before a deployment is written; the ensemble's classes (None: regressors).

    Raises:
        ValidationError: a member or the stacker without a signature, members reading different columns or
            types, mixing classifiers and regressors or differing classes, a vote of regressors, a stacker of
            the wrong width.
    """
    for version in (*members, *((stacker,) if stacker is not None else ())):
        if version.signature is None:
            raise ValidationError(
                f"Deployment '{deployment}' combines model '{version.name}' v{version.version}, which has no "
                "signature: log it with input_example=... so the ensemble's inputs can be checked."
            )
    first = members[0]
    assert first.signature is not None
    expected = {column.name: column.type for column in first.signature.inputs}
    for member in members[1:]:
        assert member.signature is not None
        given = {column.name: column.type for column in member.signature.inputs}
        if given != expected:
            difference = sorted(set(given.items()) ^ set(expected.items()))
            raise ValidationError(
                f"Deployment '{deployment}' combines models with incompatible signatures: '{member.name}' "
                f"v{member.version} reads {_columns(given)} but '{first.name}' v{first.version} reads "
                f"{_columns(expected)} (they differ in {', '.join(name for name, _ in difference)}). Ensemble "
                "members must read the same columns with the same types."
            )
    classes = _version_classes(deployment, members)
    if combine == "vote" and classes is None:
        raise ValidationError(
            f"Deployment '{deployment}' combines by vote, which needs classifiers, but its members have no "
            "classes: combine regressors by mean, weighted_mean or stacking."
        )
    if stacker is None:
        return classes
    assert stacker.signature is not None
    width = sum(stacked_width(member.classes) for member in members)
    if len(stacker.signature.inputs) != width:
        raise ValidationError(
            f"Deployment '{deployment}' stacks with '{stacker.name}' v{stacker.version}, which reads "
            f"{len(stacker.signature.inputs)} column(s), but its members give {width}: one per regressor or "
            "binary classifier, one per class of a multiclass classifier, in member order."
        )
    return stacker.classes


def _columns(schema: dict[str, str]) -> str:
    return ", ".join(f"{name} ({kind})" for name, kind in schema.items())


def _version_classes(deployment: str, members: Sequence[ModelVersion]) -> tuple[Any, ...] | None:
    found = [member.classes for member in members]
    return _same_classes(deployment, [f"'{m.name}' v{m.version}" for m in members], found)


def _member_classes(deployment: str, members: Sequence[ServedModel]) -> tuple[Any, ...] | None:
    found = [tuple(member.classes) if isinstance(member, ServedClassifier) else None for member in members]
    return _same_classes(deployment, [f"'{m.name}' v{m.version}" for m in members], found)


def _all_classifiers(members: Sequence[ServedModel]) -> bool:
    return all(isinstance(member, ServedClassifier) for member in members)


def _same_classes(deployment: str, labels: list[str], found: list[tuple[Any, ...] | None]) -> tuple[Any, ...] | None:
    if all(classes is None for classes in found):
        return None
    for label, classes in zip(labels, found, strict=True):
        if classes is None:
            raise ValidationError(
                f"Deployment '{deployment}' combines classifiers with {label}, which is not one: ensemble "
                "members are all classifiers (with classes) or all regressors."
            )
        if list(classes) != list(found[0] or ()):
            raise ValidationError(
                f"Deployment '{deployment}' combines classifiers of different classes: {label} has "
                f"{list(classes)} but {labels[0]} has {list(found[0] or ())}."
            )
    return found[0]


def _check_stacker(
    deployment: str, stacker: ServedModel, members: Sequence[ServedModel], classes: tuple[Any, ...] | None
) -> None:
    width = len(members) * stacked_width(classes)
    if len(stacker.input_schema) != width:
        raise ValidationError(
            f"Deployment '{deployment}' stacks with '{stacker.name}' v{stacker.version}, which reads "
            f"{len(stacker.input_schema)} column(s), but its members give {width}."
        )
