"""A process killed with SIGKILL in the middle of a large insert leaves the group at its previous commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

import fti
from tests.integration.feature_data import cards_frame

_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pyarrow as pa
    import fti

    schema = pa.schema([("cc_num", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")),
                        ("amount", pa.float64()), ("country", pa.string())])

    def batches():
        start = 1_000
        while True:
            keys = np.arange(start, start + 100_000)
            yield pa.record_batch([pa.array(keys), pa.array(keys * 1_000_000, pa.timestamp("us", tz="UTC")),
                                   pa.array(keys * 1.0), pa.array(["DE"] * len(keys))], schema=schema)
            start += 100_000
            if start == 1_000 + 500_000:
                print("writing", flush=True)

    with fti.connect(sys.argv[1]) as project:
        project.get_feature_group("cards").insert(pa.RecordBatchReader.from_batches(schema, batches()))
    """
)


def test_sigkill_during_insert_keeps_previous_commit(project_dir: Path) -> None:
    with fti.connect(project_dir) as project:
        cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
        cards.insert(cards_frame())
        before = cards.read()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(project_dir)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with fti.connect(project_dir) as project:
        cards = project.get_feature_group("cards")
        pd.testing.assert_frame_equal(cards.read(), before)
        assert [commit.commit for commit in cards.commits()] == [0]
        result = cards.insert(cards_frame(6))
        assert result.commit == 1
        assert len(cards.read()) == 12


def test_a_data_commit_without_its_catalog_row_stays_invisible(project: fti.Project) -> None:
    cards = project.create_feature_group("cards", primary_key=["cc_num"], event_time="ts")
    cards.insert(cards_frame())
    before = cards.read()
    # what a crash between the offline-store commit and the catalog row leaves behind: rows with the stamp
    # the killed insert reserved, in a table version the catalog never recorded
    with project.catalog.transaction() as tx:
        stamp = tx.feature_groups.reserve_stamp(cards.record.id, -1)
    orphan = pa.Table.from_pandas(cards_frame(0, 3).assign(amount=-1.0), preserve_index=False)
    orphan = orphan.append_column("_fti_commit", pa.array([stamp] * 3, pa.int64()))
    orphan = orphan.append_column("_fti_row", pa.array(range(3), pa.int64()))
    # the table's version 0 is the empty one its first insert created
    assert project.offline_store.write(cards.record.table, orphan.to_reader()) == 2
    pd.testing.assert_frame_equal(cards.read(), before)
    result = cards.insert(cards_frame(0, 1).assign(amount=5.0))
    assert result.commit == 1
    assert [commit.commit for commit in cards.commits()] == [0, 1]
    expected = before.copy()
    expected.loc[0, "amount"] = 5.0
    pd.testing.assert_frame_equal(cards.read(), expected)
    pd.testing.assert_frame_equal(cards.read(as_of=0), before)
    # nothing later trips on the orphan rows: compaction keeps them hidden, vacuum deletes them once their
    # files are older than it retains (before that, they may be an insert's still waiting for its catalog row)
    cards.compact()
    table = cards.record.table

    def stamped() -> int:
        rows = project.offline_store.read(table).to_table(columns=["_fti_commit"]).column("_fti_commit")
        return rows.to_pylist().count(stamp)

    cards.vacuum(retain=timedelta(days=1))
    assert stamped() == 3
    cards.vacuum(retain=timedelta(0))
    assert stamped() == 0
    pd.testing.assert_frame_equal(cards.read(), expected)
    assert cards.insert(cards_frame(0, 1).assign(amount=6.0)).commit == 2
    pd.testing.assert_frame_equal(cards.read(as_of=1), expected)
