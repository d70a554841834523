"""scikit-learn estimators and Pipelines, saved with joblib."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fti.registry.flavors.frameworks import classes_of, module_in_hierarchy, require

__all__ = ["SklearnFlavor"]

_FILE = "model.joblib"


class SklearnFlavor:
    """Any scikit-learn estimator or Pipeline (loading needs scikit-learn, not the training code)."""

    name = "sklearn"

    def matches(self, model: Any) -> bool:
        """A class from scikit-learn or derived from one of its base classes."""
        return module_in_hierarchy(model, "sklearn")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Pickle the estimator with joblib."""
        joblib = require("joblib", "ml")
        sklearn = require("sklearn", "ml")
        joblib.dump(model, folder / _FILE)
        return {"sklearn_version": sklearn.__version__, "class": type(model).__name__, **classes_of(model)}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """Unpickle the estimator."""
        joblib = require("joblib", "ml")
        require("sklearn", "ml")
        return joblib.load(folder / _FILE)

    def predict(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """``model.predict(frame)``."""
        return model.predict(frame)

    def predict_proba(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """``model.predict_proba(frame)``."""
        return model.predict_proba(frame)
