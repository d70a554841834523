"""The contract every catalog store passes for the event log, pipelines and pipeline runs.

Subclass :class:`PipelineRecordsContract` and provide a fixture ``catalog_store`` yielding an open store on
an empty database (the suite upgrades it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fti.core.events import Event
from fti.core.pipelines import PipelineRunRecord, RunState

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore

__all__ = ["PipelineRecordsContract"]

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LEASE = T0 + timedelta(seconds=30)


def _run(pipeline: str, slot: str, *, attempt: int = 1, minutes: int = 0, **fields: Any) -> PipelineRunRecord:
    moment = T0 + timedelta(minutes=minutes)
    return PipelineRunRecord(
        id=uuid.uuid4().hex,
        pipeline=pipeline,
        slot=slot,
        attempt=attempt,
        trigger=fields.pop("trigger", "manual"),
        state=RunState.QUEUED,
        due_at=fields.pop("due_at", moment),
        created_at=moment,
        **fields,
    )


class PipelineRecordsContract:
    """Behaviour shared by every catalog store's event, pipeline and pipeline-run records."""

    def test_events_get_increasing_ids_and_keep_their_fields(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            assert tx.events.last_id() == 0
            first = tx.events.append(Event("commit", "raw", {"version": 1, "commit": 0}, T0))
            second = tx.events.append(Event("alert", "fraud", {"kind": "drift"}, T0, pipeline_run_id="p1"))
        assert second > first
        with catalog_store.transaction() as tx:
            events = tx.events.after(0)
            assert [event.id for event in events] == [first, second]
            assert events[0] == Event("commit", "raw", {"version": 1, "commit": 0}, T0, None, first)
            assert tx.events.after(first) == events[1:]
            assert tx.events.after(0, limit=1) == events[:1]
            assert tx.events.last_id() == second
            assert tx.events.produced_by(["p1", "p2"]) == events[1:]
            assert tx.events.produced_by([]) == []

    def test_ensure_creates_once_and_updates_the_definition(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            created = tx.pipelines.ensure("features", {"schedule": "0 * * * *"}, T0, 7)
            assert (created.schedule_cursor, created.event_cursor, created.registered_at) == (T0, 7, T0)
            later = T0 + timedelta(hours=1)
            updated = tx.pipelines.ensure("features", {"schedule": "5 * * * *"}, later, 99)
            assert updated.definition == {"schedule": "5 * * * *"} and updated.updated_at == later
            assert (updated.schedule_cursor, updated.event_cursor, updated.registered_at) == (T0, 7, T0)
            tx.pipelines.ensure("alpha", {}, T0, 0)
            assert [record.name for record in tx.pipelines.list()] == ["alpha", "features"]
            assert tx.pipelines.find("missing") is None

    def test_cursors_only_move_forward(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.pipelines.ensure("features", {}, T0, 5)
            tx.pipelines.advance("features", schedule_cursor=T0 + timedelta(hours=2), event_cursor=9)
            tx.pipelines.advance("features", schedule_cursor=T0 + timedelta(hours=1), event_cursor=3)
            found = tx.pipelines.find("features")
        assert found is not None
        assert (found.schedule_cursor, found.event_cursor) == (T0 + timedelta(hours=2), 9)

    def test_a_slot_attempt_is_added_once(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            assert tx.pipelines.add_runs([_run("p", "event:1"), _run("p", "event:2")]) == 2
            assert tx.pipelines.add_runs([_run("p", "event:1"), _run("p", "event:1", attempt=2)]) == 1
            assert tx.pipelines.count_queued(["p"]) == 3
            assert tx.pipelines.count_queued(["other"]) == 0

    def test_claims_start_due_runs_within_concurrency_and_limit(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        later = T0 + timedelta(hours=1)
        with catalog_store.transaction() as tx:
            tx.pipelines.add_runs(
                [
                    _run("a", "s1"),
                    _run("a", "s2", minutes=1),
                    _run("a", "s3", minutes=2),
                    _run("b", "s1", minutes=3),
                    _run("b", "later", due_at=later),
                    _run("c", "s1"),
                ]
            )
        with catalog_store.transaction() as tx:
            claimed = tx.pipelines.claim("one", T0 + timedelta(minutes=5), LEASE, {"a": 2, "b": 5}, 10)
        assert [(run.pipeline, run.slot) for run in claimed] == [("a", "s1"), ("a", "s2"), ("b", "s1")]
        assert all(run.state is RunState.RUNNING and run.owner == "one" for run in claimed)
        assert claimed[0].lease_expires_at == LEASE and claimed[0].started_at == T0 + timedelta(minutes=5)
        with catalog_store.transaction() as tx:
            # 'a' is at its concurrency whoever asks; 'b' has nothing due; 'c' is not asked for
            assert tx.pipelines.claim("two", T0 + timedelta(minutes=5), LEASE, {"a": 2, "b": 5}, 10) == []
            assert [run.slot for run in tx.pipelines.claim("two", later, LEASE, {"b": 5}, 1)] == ["later"]
            assert tx.pipelines.claim("two", later, LEASE, {"c": 1}, 0) == []

    def test_claim_run_starts_one_queued_run(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        queued = _run("p", "manual:1", due_at=T0 + timedelta(days=1))
        with catalog_store.transaction() as tx:
            tx.pipelines.add_runs([queued])
            started = tx.pipelines.claim_run(queued.id, "one", T0, LEASE)
            assert started is not None and started.state is RunState.RUNNING
            assert tx.pipelines.claim_run(queued.id, "two", T0, LEASE) is None

    def test_leases_are_renewed_expired_and_guard_the_finish(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.pipelines.add_runs([_run("p", "s1"), _run("p", "s2")])
            first, second = tx.pipelines.claim("one", T0, LEASE, {"p": 2}, 2)
            assert tx.pipelines.renew("one", LEASE + timedelta(minutes=1)) == 2
            assert tx.pipelines.renew("nobody", LEASE) == 0
            assert tx.pipelines.expire(LEASE + timedelta(seconds=1)) == []
            assert tx.pipelines.finish(first.id, "one", RunState.SUCCEEDED, LEASE, None, ["commit:raw:v1#0"])
            lost = tx.pipelines.expire(LEASE + timedelta(minutes=2))
            assert [(run.id, run.state) for run in lost] == [(second.id, RunState.LOST)]
            assert "stopped renewing the lease" in (lost[0].error or "")
            # the lost run's scheduler comes back too late: its end is not recorded
            assert not tx.pipelines.finish(second.id, "one", RunState.SUCCEEDED, LEASE, None, [])
            done = tx.pipelines.find_run(first.id)
        assert done is not None
        assert (done.state, done.ended_at, done.reads, done.duration) == (
            RunState.SUCCEEDED,
            LEASE,
            ("commit:raw:v1#0",),
            timedelta(seconds=30),
        )

    def test_runs_are_listed_newest_first(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()
        with catalog_store.transaction() as tx:
            tx.pipelines.add_runs([_run("a", "s1"), _run("b", "s1", minutes=1), _run("a", "s2", minutes=2)])
            assert [(run.pipeline, run.slot) for run in tx.pipelines.runs()] == [("a", "s2"), ("b", "s1"), ("a", "s1")]
            assert [run.slot for run in tx.pipelines.runs("a", limit=1, offset=1)] == ["s1"]
            assert tx.pipelines.find_run("missing") is None
