"""A model traces back to the exact feature-group commits its training dataset read, and forward again."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import fti
from fti.core.lineage import FeatureGroupCommit, TrainingDataRef


def _frames(rows: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ts = pd.to_datetime("2026-01-01", utc=True) + pd.to_timedelta(np.arange(rows), unit="h")
    cards = pd.DataFrame({"cc_num": np.arange(rows) % 6, "ts": ts, "amount_avg": rng.normal(50, 10, rows)})
    labels = pd.DataFrame(
        {"cc_num": np.arange(rows) % 6, "ts": ts + pd.Timedelta(minutes=5), "is_fraud": (np.arange(rows) % 4 == 0)}
    )
    return cards, labels


def test_model_lineage_reaches_the_commits_read(project: fti.Project) -> None:
    cards_frame, labels_frame = _frames()
    cards = project.create_feature_group("card_activity", primary_key=["cc_num"], event_time="ts")
    labels = project.create_feature_group("fraud_labels", primary_key=["cc_num"], event_time="ts")
    cards.insert(cards_frame.iloc[:30])
    cards.insert(cards_frame.iloc[30:])
    labels.insert(labels_frame)
    view = project.create_feature_view(
        "fraud", query=labels.select(["is_fraud"]).join(cards.select(["amount_avg"])), labels=["is_fraud"]
    )
    td = view.create_training_data(split={"train": 0.8, "test": 0.2}, split_by="time")
    assert isinstance(td, TrainingDataRef)
    commits = td.feature_group_commits
    assert set(commits) == {("card_activity", 1), ("fraud_labels", 1)}
    assert [field.name for field in td.feature_schema] == ["amount_avg"]

    X_train, y_train = td.train
    with project.start_run("fraud", training_data=td) as run:
        model = LogisticRegression().fit(X_train, y_train)
        version = run.log_model(model, "fraud-detector")

    lineage = version.lineage()
    assert lineage.feature_view == ("fraud", 1)
    assert lineage.training_dataset_version == td.version
    assert set(lineage.feature_group_commits) == {
        FeatureGroupCommit(name, group_version, commit) for (name, group_version), commit in commits.items()
    }
    assert [column.name for column in version.signature.inputs] == ["amount_avg"]
    cards.insert(cards_frame.assign(amount_avg=0.0))  # a later commit does not change the recorded lineage
    assert version.lineage() == lineage
    X_test, _ = td.test
    assert len(version.predict(X_test)) == len(X_test)
