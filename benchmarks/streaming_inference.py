"""Streaming inference: events/s of a prediction job (Redis -> feature vectors -> model -> output stream + request
log), beside the model server scoring the same entities over HTTP.

One deployment (a logistic regression over four aggregates of an online aggregation group, features looked up
through its feature view) scores ``--events`` request events on a local redis-server:

* **prediction job**: one worker drains the events already in the stream, ``--batch-size`` per micro-batch
  (each batch: one online read per group, one model call, one request-log commit, one atomic broker write);
* **peer, /predict batched**: ``POST /v1/deployments/fraud/predict`` with ``--batch-size`` entities a request,
  one client (the job's unit of work, over HTTP, with the server's own request log);
* **peer, /predict per event**: one entity a request from 8 concurrent clients (``--singles`` requests).

Runs interleave (job, then the peers, ``--repeats`` times) and the medians are printed: on a shared machine only
the ratios of one run mean something. No target is set for this figure by the issue; the peers are the baseline.

    python benchmarks/streaming_inference.py            # 20k events over 2k cards
    python benchmarks/streaming_inference.py --quick    # 2k events over 200 cards
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["count_1h", "amount_sum_1h", "amount_mean_1d", "amount_max_1h"]


def build(project: Any, cards: int) -> None:
    """An aggregation group backfilled over a day, a feature view, a model and the deployment 'fraud'."""
    from sklearn.linear_model import LogisticRegression

    import fti

    rng = np.random.default_rng(0)
    count = cards * 10
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    events = pd.DataFrame(
        {
            "cc_num": [f"c{n}" for n in rng.integers(0, cards, count)],
            "ts": [t0 + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 86_400, count))],
            "amount": np.round(rng.gamma(2.0, 30.0, count), 2),
        }
    )
    group = project.create_aggregation_group(
        "cards",
        key=["cc_num"],
        event_time="ts",
        aggregations=[
            fti.agg.count(window="1h"),
            fti.agg.sum("amount", window="1h"),
            fti.agg.mean("amount", window="1d"),
            fti.agg.max("amount", window="1h"),
        ],
        online=True,
    )
    group.backfill(events)
    labels = project.create_feature_group("labels", primary_key=["cc_num"], event_time="ts")
    labels.insert(events.assign(is_fraud=(events["amount"] > 80).astype(np.int64))[["cc_num", "ts", "is_fraud"]])
    view = project.create_feature_view(
        "fraud", query=labels.select(["is_fraud"]).join(group.feature_group.select(FEATURES)), labels=["is_fraud"]
    )
    x_train, y_train = view.create_training_data().train
    with project.start_run("fraud") as run:
        run.log_model(LogisticRegression().fit(x_train.fillna(0), y_train), "fraud").set_alias("champion")
    project.deploy("fraud", "fraud@champion", feature_view="fraud", entity_key="cc_num")


def run_job(project: Any, entities: list[str], batch_size: int, round_index: int) -> float:
    """Events/s of one prediction job worker draining ``entities`` as request events."""
    source, target = f"requests_{round_index}", f"scores_{round_index}"
    project.publish(source, pd.DataFrame({"cc_num": entities}), key=["cc_num"])
    job = project.prediction_job("fraud", source=source, to=target, batch_size=batch_size)
    job.start()  # loads the model, as the server has before its first request
    started = time.perf_counter()
    while job.progress.events_in < len(entities):
        job.step()
    seconds = time.perf_counter() - started
    job.close()
    assert job.progress.rows_out == len(entities), job.progress
    return len(entities) / seconds


def run_batched(url: str, entities: list[str], batch_size: int) -> float:
    """Events/s of /predict with ``batch_size`` entities a request, one client."""
    import httpx

    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        for offset in range(0, len(entities), batch_size):
            body = {"entities": [{"cc_num": card} for card in entities[offset : offset + batch_size]]}
            client.post(f"{url}/v1/deployments/fraud/predict", json=body).raise_for_status()
    return len(entities) / (time.perf_counter() - started)


def run_singles(url: str, entities: list[str], clients: int = 8) -> float:
    """Events/s of /predict with one entity a request from ``clients`` concurrent clients."""
    import httpx

    async def main() -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for card in entities:
            queue.put_nowait(card)
        async with httpx.AsyncClient(timeout=60) as http:

            async def client() -> None:
                while not queue.empty():
                    card = queue.get_nowait()
                    body = {"entities": [{"cc_num": card}]}
                    answer = await http.post(f"{url}/v1/deployments/fraud/predict", json=body)
                    answer.raise_for_status()

            await asyncio.gather(*(client() for _ in range(clients)))

    started = time.perf_counter()
    asyncio.run(main())
    return len(entities) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2k events over 200 cards")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--cards", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--singles", type=int, default=None, help="requests of the per-event peer")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    count = options.events or (2_000 if options.quick else 20_000)
    cards = options.cards or (200 if options.quick else 2_000)
    singles = options.singles or min(count, 500 if options.quick else 2_000)

    import fti
    from fti.cli.serve import build_app
    from fti.config import ServingConfig
    from fti.testing.services import redis_server
    from fti.testing.serving import running_app

    rng = np.random.default_rng(1)
    figures: dict[str, list[float]] = {"job": [], "batched": [], "singles": []}
    with (
        tempfile.TemporaryDirectory() as folder,
        redis_server() as url,
        fti.connect(Path(folder), overrides={"stream_broker.url": url}) as project,
    ):
        build(project, cards)
        with running_app(build_app(project, ServingConfig(log_flush_seconds=0.2))) as server:
            for index in range(options.repeats):
                entities = [f"c{n}" for n in rng.integers(0, cards, count)]
                figures["job"].append(run_job(project, entities, options.batch_size, index))
                figures["batched"].append(run_batched(server, entities, options.batch_size))
                figures["singles"].append(run_singles(server, entities[:singles]))
    median = {name: statistics.median(values) for name, values in figures.items()}
    print(f"Streaming inference, {count:,} events over {cards:,} cards, cpu count {os.cpu_count()}, embedded stores")
    print("(interleaved runs on a possibly shared machine: compare the ratios, not the absolute figures)")
    print(f"{'figure':<62} {'events/s':>10} {'vs job':>8}")
    rows = [
        (f"prediction job, {options.batch_size:,} events a micro-batch (Redis in and out)", median["job"]),
        (f"peer: /predict, {options.batch_size:,} entities a request, 1 client", median["batched"]),
        ("peer: /predict, 1 entity a request, 8 clients", median["singles"]),
    ]
    for label, value in rows:
        print(f"{label:<62} {value:>10,.0f} {value / median['job']:>7.2f}x")


if __name__ == "__main__":
    main()
