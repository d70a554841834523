"""A model version handle: load, predict with signature checks, aliases, tags, description, lineage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fti.core.registry import AliasMove, ModelVersionRecord, Signature
from fti.errors import ValidationError
from fti.registry.flavors import ScoringFlavor, get_flavor
from fti.registry.signatures import as_arrow, enforce_signature

if TYPE_CHECKING:
    import pandas as pd

    from fti.registry.lineage import ModelLineage

__all__ = ["ModelVersion", "VersionRegistry"]


class VersionRegistry(Protocol):
    """What a model version asks of the registry that holds it (a :class:`fti.registry.ModelRegistry` is one)."""

    def get_record(self, name: str, version: int) -> ModelVersionRecord:
        """The version's record as the catalog holds it now."""
        ...

    def load_model(self, record: ModelVersionRecord) -> Any:
        """The version's model object, read from the artifact store."""
        ...

    def explain_rows(self, model: Any, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row attributions of a loaded model on a frame of its inputs."""
        ...

    def set_alias(
        self, name: str, alias: str, version: int, *, protected: bool, force: bool, reason: str | None
    ) -> None:
        """Point an alias of model ``name`` at ``version``."""
        ...

    def delete_alias(self, name: str, alias: str, *, force: bool, reason: str | None) -> None:
        """Remove an alias of model ``name``."""
        ...

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every recorded move of the aliases of model ``name``."""
        ...

    def set_tags(self, name: str, version: int, tags: Mapping[str, Any]) -> None:
        """Set tags on a version."""
        ...

    def set_description(self, name: str, version: int, text: str) -> None:
        """Replace a version's description."""
        ...

    def lineage(self, record: ModelVersionRecord) -> ModelLineage:
        """The run and training data behind a version."""
        ...


class ModelVersion:
    """One registered model version.

    Example:
        >>> version = project.get_model("fraud-detector@champion")  # doctest: +SKIP
        >>> version.predict(features)  # doctest: +SKIP
    """

    def __init__(self, registry: VersionRegistry, record: ModelVersionRecord) -> None:
        self._registry = registry
        self._record = record
        self._model: Any = None
        self._is_loaded = False

    @property
    def record(self) -> ModelVersionRecord:
        """The catalog's record of this version as last read."""
        return self._record

    @property
    def name(self) -> str:
        """The registered model's name."""
        return self._record.name

    @property
    def version(self) -> int:
        """The version number (1, 2, 3 ... per name)."""
        return self._record.version

    @property
    def flavor(self) -> str:
        """How the model is saved: sklearn, xgboost, lightgbm, pytorch or pyfunc."""
        return self._record.flavor

    @property
    def signature(self) -> Signature | None:
        """Input columns and output the model was registered with."""
        return self._record.signature

    @property
    def run_id(self) -> str | None:
        """The run that logged the version."""
        return self._record.run_id

    @property
    def metrics(self) -> dict[str, float]:
        """The run's latest metrics when the version was logged."""
        return dict(self._record.metrics)

    @property
    def created_at(self) -> datetime:
        """When the version was registered."""
        return self._record.created_at

    @property
    def description(self) -> str:
        """Free text about the version."""
        return self._record.description

    @description.setter
    def description(self, text: str) -> None:
        self.set_description(text)

    @property
    def tags(self) -> dict[str, str]:
        """The version's tags."""
        return dict(self._record.tags)

    @property
    def aliases(self) -> tuple[str, ...]:
        """Aliases pointing at this version."""
        return self._record.aliases

    # -- model -------------------------------------------------------------------------------------

    def load(self) -> Any:
        """The framework's model object (cached), read from artifacts verified against their sha256.

        Raises:
            IntegrityError: a model file was changed or replaced since it was registered.
        """
        if not self._is_loaded:
            self._model = self._registry.load_model(self._record)
            self._is_loaded = True
        return self._model

    @property
    def classes(self) -> tuple[Any, ...] | None:
        """A classifier's classes, the column order of :meth:`predict_proba`; None for other models."""
        classes = self._record.flavor_options.get("classes")
        return None if classes is None else tuple(classes)

    def predict(self, data: Any) -> Any:
        """Predictions for ``data`` (pandas, Polars, Arrow or a dict of columns).

        The input is checked against the signature first: a missing, extra or mistyped column raises a
        ValidationError naming it; integer columns are converted where floats are expected.
        """
        model = self.load()
        return get_flavor(self.flavor).predict(model, self._frame(data), self._record.flavor_options)

    def predict_proba(self, data: Any) -> np.ndarray:
        """A classifier's class scores for ``data``: one row per input row, one column per class in
        :attr:`classes` order. The input is checked as in :meth:`predict`.

        Raises:
            ValidationError: the model version is not a classifier that gives scores.

        Example:
            >>> scores = project.get_model("fraud@champion").predict_proba(X)  # doctest: +SKIP
        """
        flavor = get_flavor(self.flavor)
        if self.classes is None or not isinstance(flavor, ScoringFlavor):
            raise ValidationError(
                f"Model '{self.name}' v{self.version} ({self.flavor}) gives no class scores: it is not a "
                "classifier with classes_ and predict_proba. Ask for its predictions instead."
            )
        model = self.load()
        frame = self._frame(data)
        scores = np.asarray(flavor.predict_proba(model, frame, self._record.flavor_options), dtype=np.float64)
        return scores.reshape(len(frame), -1)

    def _frame(self, data: Any) -> Any:
        if self.signature is None:
            return as_arrow(data).to_pandas()
        return enforce_signature(self.signature, data, model=f"Model '{self.name}' v{self.version}")

    def explain(self, data: Any) -> pd.DataFrame:
        """Per-row SHAP attributions of a tree model's prediction, one column per model input (``shap`` extra).

        The input is checked against the signature as in :meth:`predict`; attributions are given for the
        preprocessed columns the model sees (one-hot columns separately).

        Raises:
            ValidationError: the model is not a tree model (random forest, gradient boosting, XGBoost,
                LightGBM); use ``fti.training.permutation_importance`` for any model.
            MissingExtraError: the ``shap`` extra is not installed.

        Example:
            >>> version.explain(X.head(5))  # doctest: +SKIP
        """
        model = self.load()
        label = f"Model '{self.name}' v{self.version}"
        frame = enforce_signature(self.signature, data, model=label) if self.signature else as_arrow(data).to_pandas()
        try:
            return self._registry.explain_rows(model, frame)
        except ValidationError as exc:
            raise ValidationError(f"{label} cannot be explained: {exc}") from exc

    # -- metadata ----------------------------------------------------------------------------------

    def set_alias(self, alias: str, *, protected: bool = False, force: bool = False, reason: str | None = None) -> None:
        """Point ``alias`` (for example 'champion') at this version.

        Args:
            alias: the alias.
            protected: protect the alias: moving or deleting it later needs ``force=True``.
            force: move a protected alias.
            reason: why, kept in the alias history.

        Raises:
            ConflictError: the alias is protected and ``force`` is not set.
        """
        self._registry.set_alias(self.name, alias, self.version, protected=protected, force=force, reason=reason)
        self.refresh()

    def delete_alias(self, alias: str, *, force: bool = False, reason: str | None = None) -> None:
        """Remove ``alias`` from this model (a protected one needs ``force=True``)."""
        self._registry.delete_alias(self.name, alias, force=force, reason=reason)
        self.refresh()

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag on this version."""
        self._registry.set_tags(self.name, self.version, {key: value})
        self.refresh()

    def set_description(self, text: str) -> None:
        """Replace the description."""
        self._registry.set_description(self.name, self.version, text)
        self.refresh()

    def alias_history(self, alias: str | None = None) -> list[AliasMove]:
        """Every recorded move of this model's aliases (or of one alias), oldest first."""
        return self._registry.alias_history(self.name, alias)

    def lineage(self) -> ModelLineage:
        """The run, training dataset version, feature view version and feature-group commits behind it."""
        return self._registry.lineage(self._record)

    def refresh(self) -> ModelVersion:
        """Re-read the version's record from the catalog."""
        self._record = self._registry.get_record(self.name, self.version)
        return self

    def __repr__(self) -> str:
        return f"ModelVersion(name={self.name!r}, version={self.version}, flavor={self.flavor!r})"
