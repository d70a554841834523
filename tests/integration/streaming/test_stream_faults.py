"""``fti stream run`` on real Redis (its group on SQLite and local files, or PostgreSQL and S3) killed with SIGKILL
right before a checkpoint (its micro-batch's rows appended offline, its acknowledgements not saved) and right after
one: the restarted worker leaves the group equal to the backfill over every event, each counted once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import fti
from tests.faults import plain_environment, start_killed

from .conftest import assert_equal_to_backfill, create_group, transactions

pytestmark = pytest.mark.integration


@pytest.fixture
def backend_settings(backend: str, request: pytest.FixtureRequest) -> str:
    """The project's catalog and offline store as ``fti.yaml`` lines: SQLite and local files, or PostgreSQL and
    S3 (moto)."""
    if backend == "sqlite+local":
        return ""
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return (
        f"catalog:\n  url: {request.getfixturevalue('postgres_url')}\n"
        f"offline_store:\n  uri: s3://{bucket}/offline\n  endpoint_url: {endpoint}\n"
    )


# a case costs two worker processes (about 40 s on a loaded machine): PostgreSQL and S3 take the stage where rows
# are appended offline (to S3) and recorded in the catalog without their checkpoint
@pytest.mark.parametrize(
    ("stage", "backend"),
    [
        ("stream.before_checkpoint", "sqlite+local"),
        ("stream.after_checkpoint", "sqlite+local"),
        ("stream.before_checkpoint", "postgresql+s3"),
    ],
)
def test_a_worker_killed_at_a_checkpoint_resumes_with_each_event_once(
    stage: str, backend: str, project_dir: Path, redis_url: str, stream_name: str, backend_settings: str
) -> None:
    (project_dir / "fti.yaml").write_text(f"stream_broker:\n  url: {redis_url}\n{backend_settings}")
    with fti.connect(project_dir) as project:
        create_group(project, "cards", stream_name)
        events = transactions(2_000, cards=50, seed=3)
        project.publish(stream_name, events, key=["cc_num"], partitions=2)
    command = [sys.executable, "-m", "fti", "stream", "run", "cards", "-p", str(project_dir), "--no-live"]
    options = ["--batch-size", "200", "--commit-seconds", "0.05", "--exit-when-idle", "2"]
    killed = start_killed(stage, [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, output
    done = subprocess.run(
        [*command, "--batch-size", "1000", "--exit-when-idle", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=plain_environment(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with fti.connect(project_dir) as project:
        assert_equal_to_backfill(project, "cards", events)
