"""A real project with a feature view, two versions of a model and a shadow model, served by `fti serve`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import fti
from fti.testing.server_process import ServerProcess
from fti.testing.services import free_port

SRC = Path(__file__).resolve().parents[3] / "src"
FEATURES = ["amount", "hour", "distance"]
CARDS = 12


def card_frames(rows: int = 240) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Card activity and fraud labels for ``CARDS`` cards, one row per hour."""
    random = np.random.default_rng(0)
    ts = pd.to_datetime("2026-01-01", utc=True) + pd.to_timedelta(np.arange(rows), unit="h")
    values = random.normal(size=(rows, 3))
    cards = pd.DataFrame({"cc_num": np.arange(rows) % CARDS, "ts": ts, **dict(zip(FEATURES, values.T, strict=True))})
    is_fraud = (values @ np.array([1.0, -0.5, 0.8]) + random.normal(scale=0.5, size=rows) > 0).astype(np.int64)
    labels = pd.DataFrame({"cc_num": cards["cc_num"], "ts": ts + pd.Timedelta(minutes=5), "is_fraud": is_fraud})
    return cards, labels


def build_project(folder: Path) -> None:
    """Feature groups, a feature view, 'fraud' v1 (champion) and v2 (challenger), 'fraud_shadow', deployment 'ab'."""
    cards_frame, labels_frame = card_frames()
    with fti.connect(folder) as project:
        cards = project.create_feature_group("card_activity", primary_key=["cc_num"], event_time="ts", online=True)
        labels = project.create_feature_group("fraud_labels", primary_key=["cc_num"], event_time="ts")
        cards.insert(cards_frame)
        labels.insert(labels_frame)
        view = project.create_feature_view(
            "fraud", query=labels.select(["is_fraud"]).join(cards.select(FEATURES)), labels=["is_fraud"]
        )
        td = view.create_training_data(split={"train": 0.8, "test": 0.2}, split_by="time")
        x_train, y_train = td.train
        for name, strength in (("fraud", 1.0), ("fraud", 0.01), ("fraud_shadow", 0.1)):
            with project.start_run("fraud", training_data=td) as run:
                run.log_model(LogisticRegression(C=strength).fit(x_train, y_train), name)
        project.get_model("fraud:1").set_alias("champion")
        project.get_model("fraud:2").set_alias("challenger")
        project.deploy(
            "ab",
            {"fraud@champion": 0.5, "fraud@challenger": 0.5},
            shadow="fraud_shadow",
            feature_view="fraud",
            entity_key="cc_num",
        )


@dataclass
class Served:
    """A project folder and the `fti serve` process answering for it."""

    folder: Path
    url: str
    token: str
    server: ServerProcess

    @property
    def headers(self) -> dict[str, str]:
        """Authorization with the test's token."""
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        """SIGTERM: graceful shutdown, the request log is flushed."""
        self.server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`fti serve` as a subprocess on a free port, tokens required, refreshing every 0.2 s."""
    folder = tmp_path_factory.mktemp("serving_project")
    build_project(folder)
    with fti.connect(folder) as project:
        token = project.create_token("tests")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "FTI_SERVING_REQUIRE_TOKENS": "true",
        "FTI_SERVING_REFRESH_SECONDS": "0.2",
        "FTI_SERVING_LOG_FLUSH_SECONDS": "0.2",
        "FTI_SERVING_SEED": "0",
        "FTI_SERVING_INVOCATIONS_DEPLOYMENT": "ab",
    }
    command = [sys.executable, "-m", "fti", "serve", "--project", str(folder), "--port", str(port)]
    with ServerProcess(command, env, folder / "serve.log") as server:
        served = Served(folder, f"http://127.0.0.1:{port}", token, server)
        server.wait_ready(f"{served.url}/v2/health/ready")
        yield served
