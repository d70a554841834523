"""The partitioned point-in-time join equals the single-node join, row for row, on generated data."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from fti.backends.kinds import create_backend
from fti.backends.ports import Executor
from fti.errors import ValidationError
from fti.features.asof_join import JoinedGroup
from fti.features.partitioned_join import FeatureRows, partitioned_point_in_time
from tests.integration.partitioned_join_cases import feature_rows, single_node_join, spines


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    opened = create_backend("executor", "local", {"max_workers": 2})
    opened.open()
    yield opened
    opened.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spine=spines(), cards=feature_rows("cards", ttl=False), recent=feature_rows("recent", ttl=True))
def test_the_partitioned_join_equals_the_single_node_join(
    executor: Executor, spine: pa.Table, cards: FeatureRows, recent: FeatureRows
) -> None:
    for partitions in (1, 3):
        joined = partitioned_point_in_time(spine, "ts", [cards, recent], executor, partitions)
        assert joined.equals(single_node_join(spine, [cards, recent])), partitions


def test_groups_joined_on_different_spine_columns_are_refused(executor: Executor) -> None:
    spine = pa.table({"cc_num": [1], "merchant": [2], "ts": pa.array([0], pa.timestamp("us"))})
    rows = pa.table({"id": [1], "t": pa.array([0], pa.timestamp("us")), "x": [1.0]})
    by_card = FeatureRows(rows, JoinedGroup("", (("cc_num", "id"),), "t", None, (("x", "card_x"),)))
    by_merchant = FeatureRows(rows, JoinedGroup("", (("merchant", "id"),), "t", None, (("x", "merchant_x"),)))
    with pytest.raises(ValidationError, match=r"join on spine columns \['cc_num'\] and \['merchant'\]"):
        partitioned_point_in_time(spine, "ts", [by_card, by_merchant], executor, 2)


def test_keys_of_different_types_are_refused(executor: Executor) -> None:
    spine = pa.table({"cc_num": pa.array([1], pa.int32()), "ts": pa.array([0], pa.timestamp("us"))})
    rows = pa.table({"cc_num": pa.array([1], pa.int64()), "t": pa.array([0], pa.timestamp("us")), "x": [1.0]})
    group = FeatureRows(rows, JoinedGroup("", (("cc_num", "cc_num"),), "t", None, (("x", "x"),)))
    with pytest.raises(ValidationError, match="spine's key 'cc_num' is int32 but the feature rows' 'cc_num' is int64"):
        partitioned_point_in_time(spine, "ts", [group], executor, 2)
