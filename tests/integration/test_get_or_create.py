"""Code that runs again (a notebook, a pipeline) gets the feature groups and views it made the first time."""

from __future__ import annotations

import pandas as pd
import pytest

import fti
from fti.errors import ConflictError


def _groups(project: fti.Project) -> tuple[fti.FeatureGroup, fti.FeatureGroup]:
    ts = pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)
    cards = project.get_or_create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
    cards.insert(pd.DataFrame({"cc_num": [1, 2], "ts": ts, "amount": [1.0, 2.0], "count": [3, 4]}))
    labels = project.get_or_create_feature_group("labels", primary_key=["cc_num"], event_time="ts")
    labels.insert(pd.DataFrame({"cc_num": [1, 2], "ts": ts, "is_fraud": [True, False]}))
    return cards, labels


def test_get_or_create_feature_view_returns_the_view_made_before(project: fti.Project) -> None:
    cards, labels = _groups(project)
    query = labels.select(["is_fraud"]).join(cards.select_all())
    first = project.get_or_create_feature_view("fraud", query=query, labels=["is_fraud"])
    again = project.get_or_create_feature_view("fraud", query=query, labels=["is_fraud"])
    assert again.record.id == first.record.id
    assert [view.version for view in project.feature_views()] == [1]


def test_get_or_create_feature_view_refuses_another_definition_naming_it(project: fti.Project) -> None:
    cards, labels = _groups(project)
    project.get_or_create_feature_view("fraud", query=labels.select(["is_fraud"]).join(cards.select_all()))
    narrower = labels.select(["is_fraud"]).join(cards.select(["amount"]))
    message = (
        r"Feature view 'fraud' v1 exists with another definition: the query is "
        r"'labels:1\[is_fraud\] \+ cards:1\[amount, count\] on cc_num', not "
        r"'labels:1\[is_fraud\] \+ cards:1\[amount\] on cc_num'. Pass the same arguments"
    )
    with pytest.raises(ConflictError, match=message):
        project.get_or_create_feature_view("fraud", query=narrower)


def test_create_says_get_or_create_exists(project: fti.Project) -> None:
    cards, labels = _groups(project)
    query = labels.select(["is_fraud"]).join(cards.select_all())
    project.create_feature_view("fraud", query=query)
    with pytest.raises(ConflictError, match=r"or get_or_create_feature_view in code that runs again"):
        project.create_feature_view("fraud", query=query)
    with pytest.raises(ConflictError, match=r"or get_or_create_feature_group in code that runs again"):
        project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
