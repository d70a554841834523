"""Flavors: how each framework's models are saved, loaded and asked for predictions.

=========== ================================================ ===================================
flavor      saved as                                         loads without the training code
=========== ================================================ ===================================
sklearn     joblib pickle (estimators and Pipelines)         yes, for scikit-learn's own classes
xgboost     XGBoost's native JSON model                      yes
lightgbm    LightGBM's native text model                     yes
pytorch     the pickled nn.Module plus its state_dict        no: the module's class must import
transformers a causal LM (or its LoRA adapter), tokenizer,     yes (an adapter loads its base
            generation defaults (fti.llm.TextGenerator)      model version first)
pyfunc      a pickle of any object with ``predict``          no: the object's class must import
=========== ================================================ ===================================

Flavors are tried in the order of :data:`FLAVORS`; the first whose ``matches`` is true saves the model.
Framework modules are imported only when a model of theirs is saved or loaded. A flavor whose models
build on another model version (a LoRA adapter on its base model) is a :class:`ReferencingFlavor`: the
registry hands it a way to load that version.

Classifiers also give class scores: a flavor that can is a :class:`ScoringFlavor`, and saves the model's
classes (``classes_``) in its options as ``classes``, the column order of ``predict_proba``. Every flavor
but pytorch and transformers is one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from fti.errors import ValidationError
from fti.registry.flavors.gradient_boosting import LightGbmFlavor, XgboostFlavor
from fti.registry.flavors.pyfunc import PyfuncFlavor
from fti.registry.flavors.pytorch import PytorchFlavor
from fti.registry.flavors.sklearn import SklearnFlavor
from fti.registry.flavors.transformers import TransformersFlavor

__all__ = ["FLAVORS", "Flavor", "ReferencingFlavor", "ScoringFlavor", "detect_flavor", "get_flavor"]


class Flavor(Protocol):
    """Save, load and predict for one framework."""

    name: str

    def matches(self, model: Any) -> bool:
        """Whether this flavor handles ``model``."""

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write the model's files into ``folder``; return the JSON options :meth:`load` needs."""

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """Read the model from the files :meth:`save` wrote."""

    def predict(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """Predictions for ``frame`` (columns already checked against the signature)."""


@runtime_checkable
class ScoringFlavor(Flavor, Protocol):
    """A flavor whose classifiers give one score per class (``options["classes"]`` is their order)."""

    def predict_proba(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """Class scores for ``frame``: one row per input row, one column per class."""


@runtime_checkable
class ReferencingFlavor(Protocol):
    """A flavor whose saved models may build on another registered model version."""

    def load_referencing(self, folder: Path, options: dict[str, Any], load_version: Callable[[str], Any]) -> Any:
        """Read the model, loading the versions it builds on with ``load_version(reference)``."""


FLAVORS: tuple[Flavor, ...] = (
    PytorchFlavor(),
    XgboostFlavor(),
    LightGbmFlavor(),
    SklearnFlavor(),
    TransformersFlavor(),  # before pyfunc: a TextGenerator has predict() too
    PyfuncFlavor(),
)


def detect_flavor(model: Any) -> Flavor:
    """The first flavor that handles ``model``."""
    for flavor in FLAVORS:
        if flavor.matches(model):
            return flavor
    raise ValidationError(
        f"Cannot register a {type(model).__name__}: it is not a scikit-learn, XGBoost, LightGBM or PyTorch model "
        "and has no predict() method. Wrap it in a class with predict(dataframe)."
    )


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``."""
    for flavor in FLAVORS:
        if flavor.name == name:
            return flavor
    raise ValidationError(
        f"Unknown model flavor '{name}': this fti knows {', '.join(item.name for item in FLAVORS)}. "
        "Upgrade fti to load this model version."
    )
