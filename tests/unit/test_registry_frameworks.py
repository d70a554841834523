"""Frameworks load lazily, a missing one names its extra, and signatures come from many input kinds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fti.core.registry import ColumnSpec, Signature
from fti.errors import MissingExtraError, ValidationError
from fti.registry.flavors import detect_flavor, get_flavor
from fti.registry.flavors.frameworks import require
from fti.registry.signatures import enforce_signature, infer_signature, to_signature

SRC = Path(__file__).resolve().parents[2] / "src"


def test_importing_fti_imports_no_ml_framework() -> None:
    probe = "import sys, fti; print(sorted(m for m in ('torch', 'sklearn', 'xgboost', 'lightgbm') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_missing_framework_names_the_extra() -> None:
    with pytest.raises(MissingExtraError) as caught:
        require("surely_not_installed_fti_module.sub", "torch")
    assert str(caught.value) == (
        "This model needs 'surely_not_installed_fti_module', which is not installed: pip install 'fti[torch]'"
    )


def test_unknown_flavor_is_explained() -> None:
    with pytest.raises(ValidationError, match="Unknown model flavor 'onnx': this fti knows pytorch, xgboost"):
        get_flavor("onnx")


def test_flavor_detection_prefers_the_framework_over_sklearn_base_classes() -> None:
    import xgboost
    from sklearn.linear_model import LinearRegression

    assert detect_flavor(xgboost.XGBRegressor()).name == "xgboost"
    assert detect_flavor(LinearRegression()).name == "sklearn"


def test_signature_from_numpy_polars_and_dicts() -> None:
    import polars as pl

    from_numpy = infer_signature(np.array([[1.0, 2.0]]), np.array([1]), column_names=["a", "b"])
    assert from_numpy == Signature(
        (ColumnSpec("a", "double"), ColumnSpec("b", "double")), (ColumnSpec("prediction", "int64"),)
    )
    from_polars = infer_signature(pl.DataFrame({"a": [1], "s": ["x"]}))
    assert from_polars.inputs == (ColumnSpec("a", "int64"), ColumnSpec("s", "string"))
    proba = infer_signature({"a": [1.0]}, np.array([[0.2, 0.8]]))
    assert proba.outputs == (ColumnSpec("prediction_0", "double"), ColumnSpec("prediction_1", "double"))
    with pytest.raises(ValidationError, match=r"Expected a table .* got str\."):
        infer_signature("nope")


def test_enforcement_casts_within_a_family_and_handles_categoricals() -> None:
    signature = Signature((ColumnSpec("n", "int64"), ColumnSpec("c", "string")))
    frame = pd.DataFrame({"n": np.array([1, 2], dtype="int32"), "c": pd.Categorical(["a", "b"])})
    checked = enforce_signature(signature, frame, model="Model 'm' v1")
    assert checked["n"].dtype == np.int64
    assert checked["c"].tolist() == ["a", "b"]


def test_signature_arguments() -> None:
    assert to_signature({"inputs": [{"name": "a", "type": "double"}]}) == Signature((ColumnSpec("a", "double"),))
    assert to_signature(pa.schema([("a", pa.int32())])) == Signature((ColumnSpec("a", "int32"),))
    with pytest.raises(ValidationError, match=r"signature must be a fti Signature, a pyarrow\.Schema or a dict"):
        to_signature(["a"])
