"""Frameworks are imported only when a model needs them, with a clear message when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from fti.errors import MissingExtraError

__all__ = ["classes_of", "module_in_hierarchy", "require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise MissingExtraError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"This model needs '{module.split('.')[0]}', which is not installed: pip install 'fti[{extra}]'"
        ) from exc


def classes_of(model: Any) -> dict[str, Any]:
    """``{"classes": [...]}`` for a classifier with ``classes_`` (JSON values), else nothing."""
    classes = getattr(model, "classes_", None)
    if classes is None or not callable(getattr(model, "predict_proba", None)):
        return {}
    return {"classes": np.asarray(classes).tolist()}


def module_in_hierarchy(model: Any, package: str) -> bool:
    """Whether ``model``'s class or one of its bases is defined in ``package`` (nothing is imported)."""
    return any(cls.__module__ == package or cls.__module__.startswith(package + ".") for cls in type(model).__mro__)
