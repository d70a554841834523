"""A stream job's offline appends in a child process: rows land offline, errors come back as they are, a child
that died is replaced, and a script without a ``__main__`` guard can run a job."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import fti
from fti.errors import BackendError, ValidationError
from fti.streams.offline_process import OfflineAppender

from .conftest import assert_equal_to_backfill, create_group, expected_rows, transactions


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_child_appends_the_rows_raises_their_errors_and_is_replaced_when_it_dies(
    streaming_project: fti.Project, stream_name: str, project_dir: Path, broker_settings: dict[str, Any]
) -> None:
    project = streaming_project
    group = create_group(project, "cards", stream_name)
    rows = pa.Table.from_pandas(expected_rows(group, transactions(400, cards=20)), preserve_index=False)
    appender = OfflineAppender(functools.partial(fti.connect, project_dir, overrides=broker_settings), "cards", 1)
    try:
        appender.wait_ready()
        first = appender.pid
        assert first is not None and first != os.getpid()
        appender.append(rows.slice(0, 150))
        assert len(group.read()) == 150

        keyless = rows.slice(150, 10).set_column(0, "cc_num", pa.nulls(10, pa.string()))
        with pytest.raises(ValidationError, match="cc_num"):
            appender.append(keyless)
        assert len(project.get_feature_group("cards").commits()) == 1  # nothing written

        os.kill(first, signal.SIGKILL)
        with pytest.raises(BackendError, match="offline writer process of aggregation group 'cards' stopped"):
            appender.append(rows.slice(150))
        appender.append(rows.slice(150))  # a new child
        assert appender.pid not in (None, first)
        stored = group.read().sort_values(["cc_num", "ts"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(stored[rows.column_names], rows.to_pandas(), check_dtype=False)
    finally:
        second = appender.pid
        appender.close()
    assert second is not None and _gone(second)
    assert appender.pid is None


def test_a_script_without_a_main_guard_runs_a_job_and_a_job_may_append_on_its_thread(
    streaming_project: fti.Project, stream_name: str, project_dir: Path, broker_settings: dict[str, Any]
) -> None:
    project = streaming_project
    create_group(project, "cards", stream_name)
    create_group(project, "cards_threaded", stream_name)
    events = transactions(1_000, cards=30)
    project.publish(stream_name, events, key=["cc_num"], partitions=2)
    script = project_dir / "run_job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import fti

            with fti.connect({str(project_dir)!r}, overrides={broker_settings!r}) as project:
                job = project.stream_job("cards", commit_seconds=0.2)
                progress = job.run(should_stop=lambda: False, exit_when_idle=1.0)
                job.close()
            print("events", progress.events_in)
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["events", "1000"]
    assert_equal_to_backfill(project, "cards", events)

    job = project.stream_job("cards_threaded", commit_seconds=0.2, offline_process=False)
    assert job.run(should_stop=lambda: False, exit_when_idle=1.0).events_in == 1_000
    job.close()
    assert_equal_to_backfill(project, "cards_threaded", events)
