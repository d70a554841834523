"""The partitioned point-in-time join in Ray tasks equals the single-node join on generated data."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from fti.backends.ports import Executor
from fti.features.partitioned_join import FeatureRows, partitioned_point_in_time
from tests.integration.partitioned_join_cases import feature_rows, single_node_join, spines

pytestmark = pytest.mark.xdist_group("ray")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spine=spines(), cards=feature_rows("cards", ttl=False), recent=feature_rows("recent", ttl=True))
def test_the_partitioned_join_on_ray_equals_the_single_node_join(
    ray_executor: Executor, spine: pa.Table, cards: FeatureRows, recent: FeatureRows
) -> None:
    joined = partitioned_point_in_time(spine, "ts", [cards, recent], ray_executor, 4)
    assert joined.equals(single_node_join(spine, [cards, recent]))
