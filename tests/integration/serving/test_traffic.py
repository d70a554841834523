"""Traffic through the real server: sticky A/B split and shadow copy (read back from the request log),
and hot swap of the champion alias under a bounded concurrent load."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest

from fti.inference_log.features import feature_columns
from tests.integration.serving.conftest import COLUMNS, ServerFactory, Stack, rows

pytestmark = [pytest.mark.e2e]


def _ab_requests(url: str, cards: np.ndarray, per_request: int) -> list[dict[str, object]]:
    frame = rows(len(cards), seed=11).assign(cc_num=cards)
    answers = []
    with httpx.Client(base_url=url) as client:
        for start in range(0, len(frame), per_request):
            part = frame.iloc[start : start + per_request]
            response = client.post("/v1/deployments/ab/predict", json={"instances": part.to_dict("records")})
            assert response.status_code == 200, response.text
            answers.append(response.json())
    return answers


def test_ab_assignment_is_sticky_and_the_shadow_gets_a_logged_copy(serve: ServerFactory, stack: Stack) -> None:
    cards = np.arange(1000, 1400)
    with serve() as url:
        first = _ab_requests(url, cards, per_request=25)
        second = _ab_requests(url, cards[::-1].copy(), per_request=7)  # other order, other grouping
    # leaving the block shut the server down gracefully, which flushed the request log
    returned_names = {name for answer in first + second for name in answer["model_names"]}
    assert returned_names == {"fraud"}, "the shadow's answers must never be returned"

    log = stack.sink.table()
    served_log, shadow_log = log.filter(pc.invert(log["is_shadow"])), log.filter(log["is_shadow"])
    served, shadow = served_log.to_pandas(), shadow_log.to_pandas()
    assert len(served) == 2 * len(cards)
    served["cc_num"] = feature_columns(served_log).column("cc_num").to_numpy()
    shadow["cc_num"] = feature_columns(shadow_log).column("cc_num").to_numpy()

    # sticky: every card went to one variant, across requests of different sizes and orders
    per_card = served.groupby("cc_num").model_version.nunique()
    assert sorted(per_card.index) == cards.tolist()
    assert (per_card == 1).all()
    share_v2 = (served.groupby("cc_num").model_version.first() == 2).mean()
    assert 0.35 < share_v2 < 0.65
    versions = np.concatenate([answer["model_versions"] for answer in first + second])

    # the log agrees with the answers: same request ids, variants and versions
    logged = served.groupby("model_version").size().to_dict()
    assert logged == {version: int((versions == version).sum()) for version in (1, 2)}
    assert set(served.variant) == {"fraud@champion", "fraud@challenger"}
    assert set(served.request_id) == {answer["request_id"] for answer in first + second}

    # the shadow saw every row of every request once, and logged its own predictions
    assert len(shadow) == 2 * len(cards)
    assert set(shadow.model_name) == {"fraud-shadow"} and set(shadow.variant) == {"fraud-shadow"}
    assert set(shadow.request_id) == set(served.request_id)
    assert sorted(shadow.cc_num) == sorted(served.cc_num)
    inputs = feature_columns(shadow_log).to_pandas()[COLUMNS].to_numpy()
    expected = stack.registry.resolve("fraud-shadow").estimator.predict(pd.DataFrame(inputs, columns=COLUMNS))
    np.testing.assert_allclose(shadow.prediction.to_numpy(), expected)
    assert (log["latency_ms"].to_numpy() > 0).all()


def test_champion_moves_five_times_under_load_without_a_failed_request(serve: ServerFactory, stack: Stack) -> None:
    clients, max_requests = 8, 4000
    payload = {"instances": rows(3).to_dict("records")}
    results: list[tuple[int, tuple[int, ...]]] = []
    moves_done = asyncio.Event()
    seen_version = {"latest": 1}

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not moves_done.is_set() and len(results) < max_requests:
            response = await client.post("/v1/deployments/fraud/predict", json=payload)
            versions = tuple(response.json().get("model_versions", ())) if response.status_code == 200 else ()
            results.append((response.status_code, versions))
            if versions:
                seen_version["latest"] = versions[0]

    async def mover() -> None:
        try:
            for move in range(5):
                target = 2 if move % 2 == 0 else 1
                stack.registry.set_alias("fraud", "champion", target)
                async with asyncio.timeout(20):
                    while seen_version["latest"] != target:  # wait until the server answers with it
                        await asyncio.sleep(0.01)
        finally:
            moves_done.set()

    async def run(url: str) -> None:
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            await asyncio.gather(mover(), *(client_loop(client) for _ in range(clients)))

    with serve(refresh_seconds=0.02) as url:
        asyncio.run(run(url))
        metrics = httpx.get(f"{url}/metrics").text

    assert len(results) < max_requests, "the alias moves did not all reach the server"
    failures = [status for status, _ in results if status != 200]
    assert failures == []
    versions = {version for _, answer in results for version in answer}
    assert versions == {1, 2}
    assert all(len(set(answer)) == 1 for _, answer in results), "one request is answered by one version"
    assert 'fti_model_swaps_total{deployment="fraud"} 5.0' in metrics
