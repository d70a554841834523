"""The pipeline the scheduler's fault tests run: it writes a line per attempt to marks/once.jsonl."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fti


@fti.pipeline
def once(ctx: fti.PipelineContext) -> None:
    """Records its attempt (one write: lines of concurrent runs never mix)."""
    folder = Path(ctx.project.root) / "marks"
    folder.mkdir(exist_ok=True)
    descriptor = os.open(folder / "once.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(descriptor, (json.dumps({"run_id": ctx.run_id, "attempt": ctx.attempt}) + "\n").encode())
    os.close(descriptor)
