"""Any Python object with ``predict(dataframe)``, pickled."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pandas as pd

from fti.registry.flavors.frameworks import classes_of

__all__ = ["PyfuncFlavor"]


class PyfuncFlavor:
    """The fallback flavor: the object's class must be importable where it is loaded."""

    name = "pyfunc"

    def matches(self, model: Any) -> bool:
        """Anything with a callable ``predict``."""
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Pickle the object."""
        with (folder / "model.pkl").open("wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return {"class": f"{type(model).__module__}.{type(model).__qualname__}", **classes_of(model)}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """Unpickle the object (our own artifact, verified against its sha256 first)."""
        with (folder / "model.pkl").open("rb") as handle:
            return pickle.load(handle)

    def predict(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """``model.predict(frame)``."""
        return model.predict(frame)

    def predict_proba(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """``model.predict_proba(frame)`` (for objects with ``classes_`` and ``predict_proba``)."""
        return model.predict_proba(frame)
