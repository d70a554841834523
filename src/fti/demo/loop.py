"""The whole FTI loop on generated card transactions, stage by stage, as ``fti demo`` runs it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fti
from fti.config import CONFIG_FILE, load_config
from fti.demo.feature_pipeline import run_feature_pipeline
from fti.demo.training_pipeline import MODEL_NAME, create_feature_view, run_training_pipeline
from fti.demo.transactions import generate_transactions
from fti.errors import ConflictError
from fti.init_template import render_config_template

__all__ = ["DEMO_PROJECT", "DemoSettings", "StageTiming", "prepare_folder", "run_demo"]

DEMO_PROJECT = "fti_demo"


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """Sizes of the demo: the full one, or a fast one for CI."""

    cards: int = 2_000
    days: int = 30
    trials: int = 8
    epochs: int = 8
    seed: int = 7

    @classmethod
    def fast(cls) -> DemoSettings:
        """Small enough to finish in well under a minute."""
        return cls(cards=500, days=14, trials=3, epochs=3)


@dataclass(slots=True)
class StageTiming:
    """How long each stage took, in order."""

    seconds: dict[str, float] = field(default_factory=dict)


#: a stage reports (name, description) when it starts
StageListener = Callable[[str, str], None]


def prepare_folder(folder: Path) -> None:
    """Create ``folder`` as a fresh demo project; a previous demo there is replaced, anything else refused."""
    if folder.exists() and any(folder.iterdir()):
        config_file = folder / CONFIG_FILE
        if not config_file.is_file() or load_config(folder).config.project != DEMO_PROJECT:
            raise ConflictError(
                f"{folder} exists and is not a demo project: choose an empty or new folder with --keep."
            )
        shutil.rmtree(folder / ".fti", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(render_config_template(DEMO_PROJECT), encoding="utf-8")


def run_demo(folder: Path, settings: DemoSettings, on_stage: StageListener | None = None) -> StageTiming:
    """Run every stage of the loop that exists in a fresh demo project in ``folder``."""
    prepare_folder(folder)
    timing = StageTiming()
    notify = on_stage or (lambda _name, _description: None)
    state: dict[str, Any] = {}
    with fti.connect(folder) as project:
        for name, description, stage in _STAGES:
            notify(name, description)
            start = time.perf_counter()
            stage(project, state, settings)
            timing.seconds[name] = time.perf_counter() - start
    return timing


def _generate(_project: fti.Project, state: dict[str, Any], settings: DemoSettings) -> None:
    state["data"] = generate_transactions(cards=settings.cards, days=settings.days, seed=settings.seed)


def _features(project: fti.Project, state: dict[str, Any], _settings: DemoSettings) -> None:
    data = state["data"]
    state["groups"] = run_feature_pipeline(project, data.transactions, data.cards)


def _training(project: fti.Project, state: dict[str, Any], settings: DemoSettings) -> None:
    view = create_feature_view(project, state["groups"])
    state["training"] = run_training_pipeline(
        project, view, trials=settings.trials, epochs=settings.epochs, seed=settings.seed
    )


def _inference(project: fti.Project, state: dict[str, Any], settings: DemoSettings) -> None:
    outcome = state["training"]
    transactions = state["data"].transactions
    last_day = transactions["ts"].max().floor("D")
    state["predictions"] = project.batch_predict(
        f"{MODEL_NAME}@champion", start=last_day.to_pydatetime(), output="fraud_predictions", show_progress=False
    )
    challenger = outcome.mlp if outcome.champion.version == outcome.boosted.version else outcome.boosted
    challenger.set_alias("challenger", reason="the demo's runner-up, served beside the champion")
    state["deployment"] = project.deploy(
        "fraud",
        variants={f"{MODEL_NAME}@champion": 0.9, f"{MODEL_NAME}@challenger": 0.1},
        entity_key="cc_num",
    )


Stage = Callable[[fti.Project, dict[str, Any], DemoSettings], None]

#: (name, what the user sees, the stage): each reads and adds to the shared state
_STAGES: list[tuple[str, str, Stage]] = [
    ("data", "Generating card transactions", _generate),
    ("features", "Feature pipeline: four feature groups", _features),
    ("training", "Training pipeline: tuned XGBoost and a PyTorch MLP", _training),
    ("inference", "Inference pipeline: batch predictions for the last day, an A/B deployment", _inference),
]
