"""The demo's live stage: card events streamed through Redis while ``fti serve`` scores them with aggregates
seconds old.

A throwaway ``redis-server`` (skipped, and said so, where none is installed) carries the events of the A/B day
on the stream ``card_events``; a stream job keeps the aggregation group ``card_live`` (each card's transactions
and amount in the last hour: ``tx_count_1h``, ``amount_sum_1h``) up to date online. Transactions the A/B day
did not score are scored by the model server, their last-hour features read from the online store right after
the job took their events in, rather than from the batch feature pipeline. The stage reports how fresh those
aggregates were and how many equal the batch pipeline's.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import fti
from fti.demo.monitoring_pipeline import DEPLOYMENT
from fti.demo.traffic import ModelServer, send_transactions
from fti.errors import BackendError
from fti.testing.services import redis_server

if TYPE_CHECKING:
    from contextlib import ExitStack

__all__ = ["LIVE_GROUP", "LIVE_STREAM", "run_live_stage"]

LIVE_GROUP = "card_live"
LIVE_STREAM = "card_events"
#: the aggregates the stream keeps fresh, named as the model reads them
STREAMED = ["tx_count_1h", "amount_sum_1h"]
#: events published per round: each round's scored transactions read the values the job wrote for it
_CHUNK = 100


def run_live_stage(
    folder: Path,
    day: pd.DataFrame,
    scored_before: set[int],
    *,
    inputs: list[str],
    requests: int,
    clients: int,
    cleanup: ExitStack,
    note: Callable[[str], None],
) -> pd.DataFrame | None:
    """Stream ``day``'s transactions (time order, with their features) through Redis and score up to
    ``requests`` of those not in ``scored_before`` (tx ids) with streamed last-hour aggregates.

    Returns the served rows, or None when no ``redis-server`` is installed (the stage is skipped).
    """
    if shutil.which("redis-server") is None:
        note("redis-server is not installed: the live stage is skipped (install Redis to see it)")
        return None
    server = ModelServer(
        folder,
        log_file=folder / ".fti" / "demo-live-server.log",
        settings={"refresh_seconds": "1", "trust_request_time": "true"},  # logged at the events' times
    )
    cleanup.callback(server.stop)
    server.launch()  # it starts while Redis and the stream job do
    url = cleanup.enter_context(redis_server())
    project = cleanup.enter_context(fti.connect(folder, overrides={"stream_broker.url": url}))
    project.create_aggregation_group(
        LIVE_GROUP,
        key=["cc_num"],
        key_types={"cc_num": "int64"},
        event_time="ts",
        aggregations=[
            fti.agg.count(window="1h", name="tx_count_1h"),
            fti.agg.sum("amount", window="1h", name="amount_sum_1h"),
        ],
        stream=LIVE_STREAM,
        online=True,
        description="Each card's transactions and amount in the last hour, kept fresh from the card_events stream.",
    )
    # the stream gets its partitions before the job, which learns their count when it is made
    project.publish(LIVE_STREAM, day.iloc[:0][["cc_num", "ts", "amount"]], key=["cc_num"], partitions=2)
    job = project.stream_job(LIVE_GROUP, commit_seconds=0.5)
    stop = threading.Event()
    failures: list[BaseException] = []

    def _run() -> None:
        try:
            job.run(stop.is_set)
        except BaseException as exc:  # reported by the publishing loop, which waits for this job
            failures.append(exc)

    worker = threading.Thread(target=_run, name="fti-demo-stream-job", daemon=True)
    worker.start()

    def _stop() -> None:
        stop.set()
        worker.join()
        job.close()

    cleanup.callback(_stop)
    # the first hour's windows hold only streamed events: score from the second hour on
    eligible = day[(day["ts"] >= day["ts"].min() + timedelta(hours=1)) & ~day["tx_id"].isin(scored_before)]
    chosen = set(eligible.sample(n=min(requests, len(eligible)), random_state=0)["tx_id"])
    server.wait_ready()
    served, ages = _stream_and_score(project, job, day, chosen, server.url, inputs, clients, failures)
    p50, p99 = job.progress.freshness(50) or 0.0, job.progress.freshness(99) or 0.0
    note(
        f"{job.progress.events_in:,} card events through Redis; aggregates online {p50:,.0f} ms (p50) / "
        f"{p99:,.0f} ms (p99) after an event reached the broker"
    )
    if served.empty:
        note("no transaction of the day was left to score")
        return served
    same = int((served["streamed_tx_count_1h"] == served["batch_tx_count_1h"]).sum())
    note(
        f"fti serve scored {len(served):,} transactions with last-hour aggregates {np.median(ages):,.0f} ms old "
        f"(median); {same:,} of them equal the batch feature pipeline's"
    )
    return served


def _stream_and_score(
    project: fti.Project,
    job: fti.streams.StreamJob,
    day: pd.DataFrame,
    chosen: set[int],
    url: str,
    inputs: list[str],
    clients: int,
    failures: list[BaseException],
) -> tuple[pd.DataFrame, list[float]]:
    """Publish ``day`` ``_CHUNK`` events at a time; after the job took each chunk in, score its chosen rows with
    the online values. Returns the served rows (with both aggregates) and each round's aggregate age (ms)."""
    parts: list[pd.DataFrame] = []
    ages: list[float] = []
    published = 0
    for start in range(0, len(day), _CHUNK):
        chunk = day.iloc[start : start + _CHUNK]
        published += project.publish(LIVE_STREAM, chunk[["cc_num", "ts", "amount"]], key=["cc_num"])
        sent = time.perf_counter()
        deadline = time.monotonic() + 30
        while job.progress.events_in < published:
            if failures or time.monotonic() > deadline:
                raise BackendError(
                    f"The demo's stream job took {job.progress.events_in:,} of {published:,} card events in "
                    f"30 s{': ' + repr(failures[0]) if failures else ''}."
                ) from (failures[0] if failures else None)
            time.sleep(0.005)
        rows = chunk[chunk["tx_id"].isin(chosen)]
        if rows.empty:
            continue
        fresh = _online(project, rows["cc_num"].tolist())
        requests = rows.assign(**{name: fresh[name].to_numpy() for name in STREAMED})
        ages.append((time.perf_counter() - sent) * 1000)
        answers = send_transactions(url, DEPLOYMENT, requests, inputs, clients=clients, timed=True)
        parts.append(
            answers.assign(
                streamed_tx_count_1h=requests["tx_count_1h"].to_numpy(),
                batch_tx_count_1h=rows["tx_count_1h"].to_numpy(),
            )
        )
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), ages or [0.0]


def _online(project: fti.Project, cards: list[Any]) -> pd.DataFrame:
    """The streamed aggregates of ``cards`` as the online store holds them now."""
    frame: pd.DataFrame = project.online_store.read(f"{LIVE_GROUP}_1", cards, STREAMED).to_pandas()
    return frame
