"""The feature store end to end with its offline store on a real S3 API server."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import fti
from fti.errors import ValidationError
from tests.integration.feature_data import cards_frame

pytestmark = pytest.mark.integration


def test_feature_store_on_s3(project_dir: Path, s3_endpoint: str, s3_bucket: str) -> None:
    overrides = {"offline_store.uri": f"s3://{s3_bucket}/offline", "offline_store.endpoint_url": s3_endpoint}
    with fti.connect(project_dir, overrides=overrides) as project:
        assert project.offline_store.describe().startswith(f"s3://{s3_bucket}/offline")
        cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
        labels = project.create_feature_group("labels", primary_key=["cc_num"], event_time="ts")
        cards.insert(cards_frame())
        cards.insert(cards_frame(0, 2).assign(amount=-5.0))
        labels.insert(cards_frame().rename(columns={"amount": "label"}).drop(columns=["country"]))
        with pytest.raises(
            ValidationError, match="Column 'amount' cannot be stored as double: its value 'x' does not fit"
        ):
            cards.insert(cards_frame().assign(amount="x"))
        assert cards.read(as_of=0)["amount"].tolist() == cards_frame()["amount"].tolist()
        assert cards.read()["amount"].tolist()[:2] == [-5.0, -5.0]
        view = project.create_feature_view(
            "fraud", query=labels.select(["label"]).join(cards.select(["amount"])), labels=["label"]
        )
        td = view.create_training_data(split={"train": 0.5, "test": 0.5})
        x_train, y_train = td.train
        assert list(x_train.columns) == ["amount"] and len(y_train) == 3
        cards.insert(cards_frame(0, 6).assign(amount=1.0))
        before = td.read()
        td.rebuild()
        pd.testing.assert_frame_equal(td.read(), before)
