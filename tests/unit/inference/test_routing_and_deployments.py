"""Deployments validate their traffic split; the router assigns variants stickily by key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fti.core.deployments import Deployment
from fti.errors import ValidationError
from fti.inference.routing import Router

AB = Deployment.create("ab", {"m@champion": 0.9, "m@challenger": 0.1}, entity_keys=["cc_num"])


@pytest.mark.parametrize(
    ("variants", "shadow", "message"),
    [
        ({}, None, "Deployment 'd' has no variants: pass variants={'model@champion': 1.0} at least."),
        ({"a": 0.5, "b": 0.4}, None, "Deployment 'd' has variant shares summing to 0.9, not 1: adjust the shares."),
        ({"a": 1.5, "b": -0.5}, None, "Deployment 'd' gives variant 'b' the share -0.5; shares must be positive"),
        ({"a": 1.0}, "a", "Deployment 'd' uses 'a' both as a variant and as its shadow: pick one role."),
    ],
)
def test_deployment_rejects_bad_splits(variants: dict[str, float], shadow: str | None, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Deployment.create("d", variants, shadow=shadow)
    assert str(caught.value).startswith(message)


def test_etag_changes_with_the_contents_only() -> None:
    same = Deployment.create("ab", {"m@champion": 0.9, "m@challenger": 0.1}, entity_keys=["cc_num"])
    other = Deployment.create("ab", {"m@champion": 0.8, "m@challenger": 0.2}, entity_keys=["cc_num"])
    assert same.etag == AB.etag != other.etag
    assert AB.references == ("m@champion", "m@challenger")


def test_assignment_is_sticky_across_routers_and_request_shapes() -> None:
    keys = pd.DataFrame({"cc_num": np.arange(20_000)})
    whole = Router(AB, seed=1).assign(keys, len(keys))
    reversed_part = Router(AB, seed=2).assign(keys.iloc[::-1].iloc[:500], 500)
    np.testing.assert_array_equal(reversed_part, whole[::-1][:500])
    assert abs((whole == 1).mean() - 0.1) < 0.01


def test_deployments_split_independently() -> None:
    keys = pd.DataFrame({"cc_num": np.arange(5000)})
    other = Deployment.create("other", {"m@champion": 0.9, "m@challenger": 0.1}, entity_keys=["cc_num"])
    first, second = Router(AB).assign(keys, 5000), Router(other).assign(keys, 5000)
    assert (first != second).any()


def test_rows_without_keys_are_assigned_at_random_reproducibly() -> None:
    plain = Deployment.create("p", {"a": 0.5, "b": 0.5})
    draws = Router(plain, seed=3).assign(None, 1000)
    np.testing.assert_array_equal(draws, Router(plain, seed=3).assign(None, 1000))
    assert 0.4 < draws.mean() < 0.6
    assert Router(AB).key_frame(pd.DataFrame({"amount": [1.0]})) is None


def test_missing_key_columns_are_named() -> None:
    with pytest.raises(ValidationError) as caught:
        Router(AB).assign(pd.DataFrame({"card": [1]}), 1)
    assert str(caught.value) == (
        "Deployment 'ab' routes by ['cc_num'] but the request lacks ['cc_num']: send them with every row."
    )
