"""The training pipeline's public names, and `import fti` staying light without the 'ml' extra's modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fti
from fti import training
from fti.training.ports import SplitData, Splits


def test_fti_exports_evaluate_and_space() -> None:
    assert fti.evaluate is training.evaluate
    assert fti.space.loguniform(1e-3, 1.0).high == 1.0


def test_import_fti_does_not_import_the_ml_libraries() -> None:
    source = Path(__file__).resolve().parents[3] / "src"
    code = "import sys, fti; print(sorted(m for m in ('sklearn', 'torch', 'optuna', 'matplotlib') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(source)}, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_splits_is_split_data() -> None:
    assert isinstance(Splits(train=(None, None)), SplitData)  # type: ignore[arg-type]
    assert all(getattr(training, name).__doc__ for name in training.__all__)
