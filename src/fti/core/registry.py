"""Registered models, model versions, aliases and signatures as the catalog records them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fti.errors import ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

    from fti.core.lineage import TrainingDataLineage

__all__ = [
    "MODEL_NAME_PATTERN",
    "AliasMove",
    "ColumnSpec",
    "ModelAlias",
    "ModelOrigin",
    "ModelVersionRecord",
    "RegisteredModel",
    "Signature",
    "validate_alias",
    "validate_model_name",
]

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")


def validate_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise a ValidationError."""
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise ValidationError(
            f"Invalid model name {name!r}: use letters, digits and '_.-', starting with a letter or digit, "
            "at most 128 characters (for example 'fraud-detector')."
        )
    return name


def validate_alias(alias: str) -> str:
    """Return ``alias`` if it is a valid alias, else raise a ValidationError."""
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise ValidationError(
            f"Invalid alias {alias!r}: use letters, digits, '_' and '-', starting with a letter or underscore "
            "(for example 'champion')."
        )
    return alias


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """A column's name and Arrow type (as ``str(pyarrow type)``, for example 'double' or 'int64')."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Signature:
    """The input columns a model expects and the output it returns."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "inputs": [{"name": col.name, "type": col.type} for col in self.inputs],
            "outputs": [{"name": col.name, "type": col.type} for col in self.outputs],
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Signature:
        """Inverse of :meth:`to_dict`."""
        return cls(
            inputs=tuple(ColumnSpec(str(col["name"]), str(col["type"])) for col in value.get("inputs", [])),
            outputs=tuple(ColumnSpec(str(col["name"]), str(col["type"])) for col in value.get("outputs", [])),
        )


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A model name with its versions' count and aliases."""

    name: str
    created_at: datetime
    latest_version: int
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelVersionRecord:
    """One registered model version."""

    name: str
    version: int
    flavor: str
    artifact_prefix: str
    created_at: datetime
    run_id: str | None = None
    signature: Signature | None = None
    flavor_options: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    training_dataset_name: str | None = None
    training_dataset_version: int | None = None


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One change of an alias: set, moved or deleted (``to_version`` None), by whom, when and why."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    is_protected: bool
    is_forced: bool
    changed_by: str
    changed_at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ModelAlias:
    """An alias pointing at a model version; a protected one moves only when forced."""

    model: str
    alias: str
    version: int
    is_protected: bool


@dataclass(frozen=True, slots=True)
class ModelOrigin:
    """The run a model version is logged from, as the registry records it.

    The run fills it in (``run.log_model``), so registering a model needs the run's values, not the run.
    ``feature_schema`` is the feature columns of the run's training data, when it describes them: the
    signature of a model logged without one.
    """

    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    training_data: TrainingDataLineage | None = None
    feature_schema: pa.Schema | None = None
