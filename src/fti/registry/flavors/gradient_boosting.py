"""XGBoost and LightGBM models, saved in their native formats so they load without the training code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fti.registry.flavors.frameworks import classes_of, module_in_hierarchy, require

__all__ = ["LightGbmFlavor", "XgboostFlavor"]


class XgboostFlavor:
    """XGBoost Boosters and scikit-learn-style estimators, as XGBoost's JSON model."""

    name = "xgboost"

    def matches(self, model: Any) -> bool:
        """A class from xgboost."""
        return module_in_hierarchy(model, "xgboost")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """``save_model`` to model.json; remember the estimator class."""
        xgboost = require("xgboost", "ml")
        model.save_model(folder / "model.json")
        return {"class": type(model).__name__, "xgboost_version": xgboost.__version__, **classes_of(model)}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """Rebuild the same estimator class (or a Booster) from model.json."""
        xgboost = require("xgboost", "ml")
        cls = getattr(xgboost, str(options.get("class", "Booster")), xgboost.Booster)
        if cls is xgboost.Booster:
            return xgboost.Booster(model_file=str(folder / "model.json"))
        model = cls()
        model.load_model(folder / "model.json")
        return model

    def predict(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """Estimators predict on the frame; a Booster on a DMatrix of it."""
        xgboost = require("xgboost", "ml")
        if isinstance(model, xgboost.Booster):
            return model.predict(xgboost.DMatrix(frame))
        return model.predict(frame)

    def predict_proba(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """A classifier's ``predict_proba(frame)``."""
        return model.predict_proba(frame)


class LightGbmFlavor:
    """LightGBM Boosters and scikit-learn-style estimators, as LightGBM's text model.

    Loading returns a ``lightgbm.Booster``; for a classifier, ``predict`` turns its probabilities
    back into the class labels the estimator was trained on.
    """

    name = "lightgbm"

    def matches(self, model: Any) -> bool:
        """A class from lightgbm."""
        return module_in_hierarchy(model, "lightgbm")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """``save_model`` to model.txt; remember whether it classifies and its classes."""
        lightgbm = require("lightgbm", "ml")
        booster = model if isinstance(model, lightgbm.Booster) else model.booster_
        booster.save_model(str(folder / "model.txt"))
        options: dict[str, Any] = {"class": type(model).__name__, "lightgbm_version": lightgbm.__version__}
        classes = getattr(model, "classes_", None)
        if classes is not None:
            options["classes"] = np.asarray(classes).tolist()
        return options

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """A Booster read from model.txt."""
        lightgbm = require("lightgbm", "ml")
        return lightgbm.Booster(model_file=str(folder / "model.txt"))

    def predict(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """Regression values, or class labels for a classifier."""
        raw = np.asarray(model.predict(frame))
        classes = options.get("classes")
        if classes is None:
            return raw
        index = (raw > 0.5).astype(int) if raw.ndim == 1 else raw.argmax(axis=1)
        return np.asarray(classes)[index]

    def predict_proba(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """The Booster's probabilities, one column per class (a binary model's single column made two)."""
        raw = np.asarray(model.predict(frame), dtype=np.float64)
        return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
