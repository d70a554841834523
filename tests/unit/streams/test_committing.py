"""The background committer applies commits in order, rows before checkpoints, and drops those after a failure."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from fti.errors import BackendError
from fti.streams.committing import Checkpoint, Commit, Committer


def _state() -> bytes:
    return b"state"


def _rows(*values: int) -> pa.Table:
    return pa.table({"x": list(values)})


def test_commits_are_applied_in_order_with_the_rows_before_their_checkpoints() -> None:
    applied: list[str] = []
    committer = Committer(
        lambda rows: applied.append(f"rows {rows.column('x').to_pylist()}"),
        lambda checkpoint: applied.append(f"checkpoint {checkpoint.partition} {list(checkpoint.ids)}"),
    )
    committer.submit(Commit(_rows(1, 2), [Checkpoint(0, ["1-0"], _state), Checkpoint(1, ["1-1"], _state)]))
    committer.submit(Commit(None, [Checkpoint(0, ["2-0"], _state)]))
    committer.submit(Commit(_rows(3), []))
    committer.flush()
    assert applied == [
        "rows [1, 2]",
        "checkpoint 0 ['1-0']",
        "checkpoint 1 ['1-1']",
        "checkpoint 0 ['2-0']",
        "rows [3]",
    ]
    assert committer.checkpoints_saved == 3
    committer.close()


def test_after_a_failed_commit_no_later_checkpoint_is_saved_and_the_error_reaches_the_job() -> None:
    saved: list[int] = []
    release = threading.Event()

    def append(rows: pa.Table) -> None:
        release.wait()
        if rows.column("x").to_pylist() == [2]:
            raise BackendError("the offline store is down")

    committer = Committer(append, lambda checkpoint: saved.append(checkpoint.partition))
    committer.submit(Commit(_rows(1), [Checkpoint(1, ["1-0"], _state)]))
    committer.submit(Commit(_rows(2), [Checkpoint(2, ["2-0"], _state)]))
    committer.submit(Commit(_rows(3), [Checkpoint(3, ["3-0"], _state)]))
    release.set()
    with pytest.raises(BackendError, match="the offline store is down"):
        committer.flush()
    assert saved == [1]
    with pytest.raises(BackendError):
        committer.submit(Commit(_rows(4), [Checkpoint(4, ["4-0"], _state)]))
    committer.discard()
    committer.submit(Commit(_rows(5), [Checkpoint(5, ["5-0"], _state)]))
    committer.close()
    assert saved == [1, 5]
