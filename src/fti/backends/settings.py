"""Validation of a backend's own settings model (STYLE.md B4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

from fti.core.settings_errors import describe_settings_error
from fti.errors import ValidationError

__all__ = ["parse_backend_config"]

ConfigT = TypeVar("ConfigT", bound=pydantic.BaseModel)


def parse_backend_config(model: type[ConfigT], options: Mapping[str, Any], role: str) -> ConfigT:
    """Validate ``options`` against ``model``; errors name the ``role.key`` at fault."""
    try:
        return model.model_validate(options)
    except pydantic.ValidationError as exc:
        raise ValidationError(describe_settings_error(exc, f"{role} settings", prefix=role)) from None
