"""The reference a deployment is checked against: by default its champion's training dataset, profiled once.

The profile covers the model's input columns and its predictions on the training data, and is kept as a
JSON artifact per model version, so it is built once (when the version is deployed, see
:func:`profile_references`, else on the first check) and read back on every later check.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fti.errors import FtiError, NotFoundError, ValidationError
from fti.monitoring.stats.columns import TableLike
from fti.monitoring.stats.reference import ReferenceProfile, build_reference

if TYPE_CHECKING:
    from fti.artifacts import ArtifactService
    from fti.core.deployments import Deployment
    from fti.features import FeatureStore
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion

__all__ = [
    "ReferenceInput",
    "ReferenceSource",
    "deployed_model",
    "most_common",
    "profile_references",
    "reference_key",
    "reference_profile",
    "resolve_reference",
    "served_references",
    "text_reference_data",
]

CHAMPION = "champion"

ReferenceInput = ReferenceProfile | TableLike | None
"""What a check compares with: a profile, data to profile, or None for the deployed model's training dataset."""


@dataclass(frozen=True, slots=True)
class ReferenceSource:
    """Where a reference came from: a model version's training dataset (and its artifact), or the caller."""

    profile: ReferenceProfile
    model: str | None
    artifact_key: str | None
    description: str


def reference_key(name: str, version: int) -> str:
    """The artifact key of the cached reference profile of a model version."""
    return f"monitoring/references/{name}/v{version}.json"


def deployed_model(registry: ModelRegistry, deployment: str, log: pa.Table) -> ModelVersion:
    """The model a deployment serves, from its logged rows: the champion of the most-logged model name if it
    has one, else that name's most-logged version.

    Raises:
        NotFoundError: no row was logged.
    """
    name = most_common(log.column("model_name")) if log.num_rows else None
    if name is None:
        raise NotFoundError(
            f"Deployment '{deployment}' has no logged predictions in the window: send traffic to it or widen the "
            "window (--window / window=)."
        )
    model = next((item for item in registry.list_models() if item.name == name), None)
    if model is not None and CHAMPION in model.aliases:
        return registry.get_model(f"{name}@{CHAMPION}")
    rows = log.filter(pc.equal(log.column("model_name"), name))
    return registry.get_model(f"{name}:{most_common(rows.column('model_version'))}")


def most_common(values: pa.ChunkedArray | pa.Array) -> Any:
    """The most frequent non-null value of a column (ties: the largest), or None when empty."""
    counted = pc.value_counts(values)
    if len(counted) == 0:
        return None
    counts = np.asarray(counted.field("counts").to_numpy())
    found = [
        item
        for item, count in zip(counted.field("values").to_pylist(), counts.tolist(), strict=True)
        if count == counts.max() and item is not None
    ]
    return max(found) if found else None


def resolve_reference(
    reference: ReferenceInput,
    *,
    model: ModelVersion | None,
    features: FeatureStore,
    artifacts: ArtifactService,
) -> ReferenceSource:
    """The reference profile to check against.

    Args:
        reference: a :class:`ReferenceProfile`, data to profile (DataFrame or Arrow table), or None for the
            model's training dataset (cached as an artifact).
        model: the deployed model version (needed when ``reference`` is None).
        features: the feature store holding the training dataset.
        artifacts: where the profile is cached.
    """
    if isinstance(reference, ReferenceProfile):
        return ReferenceSource(reference, None, None, "given profile")
    if reference is not None:
        return ReferenceSource(build_reference(reference), None, None, "given data")
    if model is None:
        raise ValidationError("A default reference needs the deployed model: pass reference= or log traffic first.")
    profile, key = reference_profile(model, features, artifacts)
    label = f"{model.name}:{model.version}"
    return ReferenceSource(profile, label, key, f"training dataset of {label}")


def served_references(deployment: Deployment) -> list[str]:
    """The model references a deployment serves: its variants', then its shadow's."""
    served = [variant.reference for variant in deployment.variants]
    return [*served, deployment.shadow] if deployment.shadow else served


def profile_references(
    references: Iterable[str], registry: ModelRegistry, features: FeatureStore, artifacts: ArtifactService
) -> list[str]:
    """Build and keep the reference profile of each model version ``references`` serve now (``name@alias``,
    ``name:version``), so that the first check of a deployment serving them reads it instead of building it.

    Best effort: a version whose reference cannot be built (no training dataset in its lineage, inputs the
    dataset lacks) is skipped, and its first check says why. Returns the artifact keys of the profiles kept.
    """
    keys = []
    for reference in dict.fromkeys(references):
        try:
            model = registry.get_model(reference)
            if model.lineage().training_data is None:
                continue
            keys.append(reference_profile(model, features, artifacts)[1])
        except FtiError:
            continue
    return keys


def reference_profile(
    model: ModelVersion, features: FeatureStore, artifacts: ArtifactService
) -> tuple[ReferenceProfile, str]:
    """The profile of a model version's training dataset and its artifact key: read back if kept, else built from
    the training dataset (and the model's predictions on it) and kept.

    Raises:
        ValidationError: the model version has no training dataset in its lineage, or it lacks the model's inputs.
    """
    key = reference_key(model.name, model.version)
    if artifacts.exists(key):
        return ReferenceProfile.from_dict(artifacts.get_json(key)), key
    profile = build_reference(training_reference_data(model, features))
    # compact JSON: the profile's samples run to thousands of numbers, which indented JSON encodes in Python
    # (several times slower than the C encoder), and nobody reads this file but from_dict
    artifacts.put_bytes(key, json.dumps(profile.to_dict(), separators=(",", ":"), sort_keys=True, default=str).encode())
    return profile, key


def text_reference_data(model: ModelVersion, features: FeatureStore) -> pa.Table:
    """The ``prompt`` and ``response`` columns of a text generation model's training dataset.

    Raises:
        ValidationError: the model has no training dataset in its lineage, or it has no ``prompt`` column.
    """
    lineage = model.lineage()
    if lineage.training_data is None or lineage.feature_view is None:
        raise ValidationError(
            f"Model '{model.name}' v{model.version} has no training dataset in its lineage, so there are no training "
            "prompts to compare with: pass reference= (a DataFrame with 'prompt' and 'response' columns)."
        )
    view = features.get_feature_view(*lineage.feature_view)
    frame = view.get_training_dataset(lineage.training_dataset_version).read()
    columns = [name for name in ("prompt", "response") if name in frame.columns]
    if "prompt" not in columns:
        raise ValidationError(
            f"The training dataset of model '{model.name}' v{model.version} has no 'prompt' column: pass reference= "
            "(a DataFrame with 'prompt' and 'response' columns)."
        )
    return pa.Table.from_pandas(frame[columns], preserve_index=False)


def training_reference_data(model: ModelVersion, features: FeatureStore) -> pa.Table:
    """The model's input columns of its training dataset, with the model's predictions as ``prediction``."""
    lineage = model.lineage()
    if lineage.training_data is None or lineage.feature_view is None:
        raise ValidationError(
            f"Model '{model.name}' v{model.version} has no training dataset in its lineage, so there is no default "
            "reference: log it in a run started with training_data=td, or pass reference= (a DataFrame or profile)."
        )
    view_name, view_version = lineage.feature_view
    view = features.get_feature_view(view_name, view_version)
    dataset = view.get_training_dataset(lineage.training_dataset_version)
    frame = dataset.read()
    inputs = [column.name for column in model.signature.inputs] if model.signature else []
    inputs = inputs or [field.name for field in dataset.feature_schema]
    missing = [name for name in inputs if name not in frame.columns]
    if missing:
        raise ValidationError(
            f"Training dataset {dataset.version} of feature view '{view_name}' v{view_version} lacks the input "
            f"column(s) {', '.join(missing)} of model '{model.name}' v{model.version}: pass reference= instead."
        )
    inputs_frame = frame[inputs]
    table = pa.Table.from_pandas(inputs_frame, preserve_index=False)
    predicted = np.asarray(model.predict(inputs_frame))
    if predicted.ndim == 1:
        try:
            values = pa.array(predicted.astype(np.float64), pa.float64())
        except (TypeError, ValueError):  # text classes are not logged as numbers: no prediction reference
            return table
        table = table.append_column("prediction", values)
    return table
