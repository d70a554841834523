"""Named kill points in the write paths, for the fault-injection tests.

Each write path calls :func:`kill_point` at the stages where a crash matters: before and after the offline
commit of an insert, before and after its catalog row, between the batches of an online write, and so on
(:data:`STAGES` lists them all). A process started with the environment variable ``FAULT_KILL_AT`` set to a
stage's name kills itself with SIGKILL the first time it reaches that stage, exactly as a crash or an
``kill -9`` would stop it there; the tests then check that what it left is the previous or the new state,
never a mix, and that the next operation succeeds.

The variable is read once, when this module is imported; unset (the normal case), a kill point costs one
comparison with None. It does not start with ``FTI_``: it is no setting of the project.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENVIRONMENT_VARIABLE", "STAGES", "kill_point"]

#: the environment variable naming the stage at which the process kills itself
ENVIRONMENT_VARIABLE = "FAULT_KILL_AT"

#: every stage a write path names, with what has happened when the process dies there
STAGES: dict[str, str] = {
    "insert.before_offline_commit": "a feature-group insert has validated its rows, nothing is written",
    "insert.after_offline_commit": "the rows are committed to the offline table, the catalog has no row for them",
    "insert.before_catalog_commit": "the commit's catalog row is written in a transaction not yet committed",
    "insert.after_catalog_commit": "the commit is recorded; an online group's rows are not yet online",
    "online.after_batch": "an online write (insert or materialize) wrote its first batch of keys, not the rest",
    "metrics.before_commit": "a metric flush (or a run's end) wrote its points in a transaction not yet committed",
    "metrics.after_commit": "a metric flush (or a run's end) is committed",
    "artifacts.after_file": "a folder upload (a model's files) stored its first file, not the rest",
    "registry.before_version_commit": "a model version's catalog row is written in a transaction not yet committed",
    "registry.after_version_commit": "a model version is registered",
    "alias.before_commit": "an alias move is written in a transaction not yet committed",
    "deployment.before_commit": "a deployment change is written in a transaction not yet committed",
    "deployment.after_commit": "a deployment change is committed, its reference profile not yet built",
    "request_log.before_write": "the request log's writer spooled a batch and is about to write it to the log",
    "request_log.after_write": "the request log's writer wrote a batch to the log and has not dropped its spool",
    "scheduler.after_claim": "a scheduler claimed a queued pipeline run and has not started it",
    "scheduler.after_launch": "a scheduler started a pipeline run and has not seen it end",
    "stream.before_checkpoint": "a stream job appended a micro-batch's rows offline, not its checkpoint",
    "stream.after_checkpoint": "a stream job saved a checkpoint with its acknowledgements",
}

_KILL_AT = os.environ.get(ENVIRONMENT_VARIABLE) or None


def kill_point(stage: str) -> None:
    """Kill this process with SIGKILL if ``FAULT_KILL_AT`` names ``stage`` (one of :data:`STAGES`)."""
    if _KILL_AT is not None and stage == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
