"""A tiny GPT-2 built and pretrained once per test session, and a project with its task data and base model.

The model is built into a folder shared by the xdist workers (a file lock makes the second wait for the
first, then reuse it); the LLM tests carry one xdist group, so with ``--dist loadgroup`` they share one
worker and pay the ~10 s of torch and transformers imports once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import fti
import fti.llm
from fti.demo.code_pairs import code_pairs, stdlib_files
from fti.demo.tiny_model import HELD_OUT_SPLIT, TinyRecipe, build_tiny_model
from fti.llm.tracked import TEXT_SIGNATURE

RECIPE = TinyRecipe()


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    """One torch thread: tests share two cores with other work, where more threads only contend."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def pairs() -> pd.DataFrame:
    """Docstring → code pairs from the recipe's standard library files."""
    return code_pairs(stdlib_files(RECIPE.files), max_code_chars=RECIPE.max_code_chars)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, pairs: pd.DataFrame) -> Path:
    """The folder of the tiny GPT-2 (built once, shared by the workers of this session)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return build_tiny_model(shared / "tiny-gpt2", RECIPE, pairs=pairs)


@pytest.fixture(scope="module")
def llm_project(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, pairs: pd.DataFrame
) -> Iterator[fti.Project]:
    """A project with the pairs as a feature group, a training dataset of them, and 'tiny-gpt2' v1 registered."""
    with fti.connect(tmp_path_factory.mktemp("llm-project")) as project:
        group = project.create_feature_group("code_pairs", primary_key=["pair_id"], event_time="ts")
        group.insert(pairs)
        view = project.create_feature_view("code_pairs", query=group.select_all())
        view.create_training_data()
        with project.start_run("pretraining") as run:
            run.log_model(fti.llm.load_pretrained(tiny_model), "tiny-gpt2", signature=TEXT_SIGNATURE)
        yield project


@pytest.fixture(scope="module")
def text_data(llm_project: fti.Project) -> fti.llm.TextDataset:
    """The project's training dataset as text data, split by file (the held-out files were not pretrained on)."""
    training_data = llm_project.get_feature_view("code_pairs").get_training_dataset(1)
    return fti.llm.TextDataset(training_data, split=HELD_OUT_SPLIT, split_by="file")
