"""Pre- and postprocessing functions of a deployment, named by import path (``package.module:function``).

``preprocess(frame) -> frame`` turns each request's rows into the models' inputs (the same number of rows;
the request log keeps what the models read). ``postprocess(predictions, features) -> predictions`` turns
the predictions returned (one per row) after they were logged, so monitoring sees the models' own output.

Their code travels like a model's: put the module in the ``code_paths`` of a model version the deployment
serves, and the server imports it after loading that version. ``project.deploy`` checks each function
before it writes: importable here, or its module packaged with one of the deployment's model versions.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import pandas as pd

from fti.errors import FtiError, ValidationError

__all__ = [
    "Postprocess",
    "Preprocess",
    "check_hook",
    "import_hook",
    "module_files",
    "run_postprocess",
    "run_preprocess",
]

Preprocess = Callable[[pd.DataFrame], pd.DataFrame]
Postprocess = Callable[[np.ndarray, pd.DataFrame], Any]


def module_files(module: str) -> tuple[str, str]:
    """The two files that can hold ``module`` in a code folder: ``a/b.py`` and ``a/b/__init__.py``."""
    path = module.replace(".", "/")
    return f"{path}.py", f"{path}/__init__.py"


def import_hook(path: str, *, deployment: str, role: str) -> Callable[..., Any]:
    """The function ``path`` (``package.module:function``) names.

    Raises:
        ValidationError: the module cannot be imported or has no such function.
    """
    module_name, _, function = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationError(
            f"Deployment '{deployment}' has {role} '{path}', whose module cannot be imported ({exc}): package "
            "it with a served model version (log_model(..., code_paths=[...])) or install it."
        ) from exc
    found = getattr(module, function, None)
    if not callable(found):
        raise ValidationError(
            f"Deployment '{deployment}' has {role} '{path}', but module '{module_name}' has no function "
            f"'{function}': name a function defined in it."
        )
    return found  # type: ignore[no-any-return]


def check_hook(path: str, *, deployment: str, role: str, packaged: Collection[str], packaged_by: str) -> None:
    """Check ``path`` before a deployment is written: importable here, or its module packaged.

    Args:
        path: ``package.module:function``.
        deployment: the deployment's name (for messages).
        role: ``preprocess`` or ``postprocess``.
        packaged: relative file paths of the code packaged with the deployment's model versions.
        packaged_by: the model versions, for the message.

    Raises:
        ValidationError: neither importable here nor packaged, or importable without the function.
    """
    module_name = path.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        import_hook(path, deployment=deployment, role=role)
        return
    if any(candidate in packaged for candidate in module_files(module_name)):
        return
    raise ValidationError(
        f"Deployment '{deployment}' has {role} '{path}', which cannot be imported: module '{module_name}' is "
        f"neither installed here nor in the code packaged with {packaged_by}. Log a model version with "
        f"code_paths=[...] holding it, or check the name."
    )


def run_preprocess(hook: Preprocess, frame: pd.DataFrame, deployment: str) -> pd.DataFrame:
    """``hook(frame)``, checked to be a frame with one row per request row."""
    result = hook(frame)
    if not isinstance(result, pd.DataFrame) or len(result) != len(frame):
        got = f"{len(result)} rows" if isinstance(result, pd.DataFrame) else type(result).__name__
        raise FtiError(
            f"The preprocess function of deployment '{deployment}' returned {got} for {len(frame)} request rows: "
            "it must return a DataFrame with one row per request row."
        )
    return result


def run_postprocess(hook: Postprocess, predictions: np.ndarray, features: pd.DataFrame, deployment: str) -> np.ndarray:
    """``hook(predictions, features)``, checked to give one prediction per row."""
    result = np.asarray(hook(predictions, features))
    if result.ndim != 1 or len(result) != len(predictions):
        raise FtiError(
            f"The postprocess function of deployment '{deployment}' returned shape {list(result.shape)} for "
            f"{len(predictions)} predictions: it must return one value per row."
        )
    return result
