"""A stream job over real Redis Streams: values equal the backfill's, refusals go to the dead-letter stream."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
import redis

import fti
from fti.errors import NotFoundError, ValidationError
from fti.streams import dead_letter_stream

from .conftest import T0, aggregations, assert_equal_to_backfill, create_group, expected_rows, transactions


def test_a_job_keeps_the_group_equal_to_the_backfill_and_refuses_bad_events(
    streaming_project: fti.Project, stream_name: str, redis_url: str
) -> None:
    project = streaming_project
    create_group(project, "cards", stream_name)
    events = transactions(3_000, cards=50)
    bad = pd.DataFrame(
        {
            "cc_num": [None, "c1", "c2"],
            "ts": [T0, T0 + timedelta(hours=1), T0 - timedelta(days=1)],
            "amount": [1.0, float("nan"), 2.0],
            "merchant": ["m1", "m1", "m1"],
        }
    )
    project.publish(stream_name, events.iloc[:2_000], key=["cc_num"], partitions=3)
    project.publish(stream_name, bad.iloc[[0, 2]], key=["cc_num"])
    project.publish(stream_name, events.iloc[1_995:], key=["cc_num"])  # 5 duplicate deliveries
    job = project.stream_job("cards", batch_size=500, commit_seconds=0.2)
    progress = job.run(should_stop=lambda: False, exit_when_idle=1.0)
    job.close()
    assert progress.events_in == 3_007
    # a card with two transactions in one microsecond is one event too (the first counts), as in the backfill
    assert progress.duplicates == 5 + int(events.duplicated(["cc_num", "ts"]).sum())
    assert progress.dead_letters == 2
    assert job.lag() == 0
    assert_equal_to_backfill(project, "cards", events)
    with redis.Redis.from_url(redis_url) as client:
        dead = client.xrange(dead_letter_stream(stream_name))
    reasons = sorted(fields[b"reason"].decode() for _, fields in dead)
    assert reasons[0] == "missing key 'cc_num'"
    assert reasons[1].startswith("too late: event time 2023-12-31T00:00:00+00:00 is older than the watermark")


def test_a_job_is_refused_before_anything_runs_for_a_group_it_cannot_stream(streaming_project: fti.Project) -> None:
    project = streaming_project
    project.create_aggregation_group("offline_only", key=["cc_num"], event_time="ts", aggregations=aggregations())
    with pytest.raises(ValidationError, match="Aggregation group 'offline_only' v1 names no stream: create it"):
        project.stream_job("offline_only")
    project.create_feature_group("plain", primary_key=["cc_num"], event_time="ts")
    with pytest.raises(NotFoundError, match="Feature group 'plain' v1 is not an aggregation group"):
        project.stream_job("plain")
    with pytest.raises(NotFoundError, match="Feature group 'absent'"):
        project.stream_job("absent")
    with pytest.raises(ValidationError, match="Worker 2 of 2: use a worker index from 0 to 1"):
        create_group(project, "cards", "tx_refused")
        project.stream_job("cards", worker=2, workers=2)


def test_with_an_emit_step_a_job_writes_offline_the_backfills_rows_of_the_steps_its_watermark_closed(
    streaming_project: fti.Project, stream_name: str
) -> None:
    project = streaming_project
    group = project.create_aggregation_group(
        "stepped",
        key=["cc_num"],
        event_time="ts",
        aggregations=aggregations(),
        lateness="5m",
        stream=stream_name,
        online=True,
        emit="10m",
    )
    events = transactions(1_500, cards=40)
    project.publish(stream_name, events, key=["cc_num"])
    job = project.stream_job("stepped", batch_size=400, commit_seconds=0.2)
    progress = job.run(should_stop=lambda: False, exit_when_idle=1.0)
    job.close()
    assert progress.dead_letters == 0
    expected = expected_rows(group, events)  # every step's row, the last step's too
    watermark = events["ts"].max() - timedelta(minutes=5)
    step_ends = T0 + ((expected["ts"] - T0) // timedelta(minutes=10) + 1) * timedelta(minutes=10)
    closed = expected[step_ends <= watermark].reset_index(drop=True)
    assert 0 < len(closed) < len(expected)
    stored = group.read().sort_values(["cc_num", "ts"]).reset_index(drop=True)[list(closed.columns)]
    pd.testing.assert_frame_equal(stored, closed, check_dtype=False, rtol=1e-9)
    newest = expected.groupby("cc_num").tail(1).reset_index(drop=True)
    online = project.online_store.read("stepped_1", newest["cc_num"].tolist()).to_pandas()
    pd.testing.assert_frame_equal(online[list(newest.columns)], newest, check_dtype=False, rtol=1e-9)
