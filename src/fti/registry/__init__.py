"""The model registry: model versions, aliases, flavors, signatures and lineage."""

from __future__ import annotations

from fti.registry.lineage import ModelLineage, ModelVersionRef, RunLineage, TrainingDataUsage
from fti.registry.service import ModelRegistry, parse_model_ref
from fti.registry.version import ModelVersion

__all__ = [
    "ModelLineage",
    "ModelRegistry",
    "ModelVersion",
    "ModelVersionRef",
    "RunLineage",
    "TrainingDataUsage",
    "parse_model_ref",
]
