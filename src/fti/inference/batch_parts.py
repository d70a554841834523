"""Batch predictions in parts: each part of the rows is scored by one executor task.

A task gets plain data (the project's opener, the model version's reference, the feature view's name and
version, the feature-group commits to read, its part), opens the project itself, loads the model once,
reads its part of the view's rows (``FeatureView.batch_stream(partition=...)``: a run of row groups, or the
keys whose hash falls in the part) or joins its slice of a given spine, and returns the scored rows. The
caller writes every part as one commit of the output group, so a failed task writes nothing.

There are ``PARTS_PER_WORKER`` parts per executor worker, all started at once; the caller receives them in
part order, each as soon as it and those before it are scored, and writes one while the later ones are
still being scored (rather than writing everything after the last part: on 2 workers, writing the commit
took about as long again as scoring the parts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from fti.core.deployments import OutputKind
from fti.features.ordered_tasks import map_in_order
from fti.inference.scoring import ScoringPlan, coalesced, plan_scoring, scored, spine_slices

if TYPE_CHECKING:
    from fti.backends.ports import Executor
    from fti.features.service import FeatureStore
    from fti.features.time_travel import Snapshot
    from fti.registry.service import ModelRegistry

__all__ = ["PARTS_PER_WORKER", "Part", "ProjectOpener", "ScoringProject", "score_in_parts", "score_part"]

#: parts per executor worker: the first parts are written while the later ones are scored
PARTS_PER_WORKER = 2


class ScoringProject(Protocol):
    """What a task needs of the project it opens (a project is one)."""

    @property
    def features(self) -> FeatureStore:
        """The feature store."""

    @property
    def registry(self) -> ModelRegistry:
        """The model registry."""


#: Opens the project again (in a task's process) as a context manager; must be picklable.
ProjectOpener = Callable[[], AbstractContextManager[ScoringProject]]


@dataclass(frozen=True, slots=True)
class Part:
    """One executor task of a batch prediction: part ``index`` of ``count`` of the rows."""

    opener: ProjectOpener
    #: the model version, pinned (``name:version``)
    model: str
    view: tuple[str, int]
    #: feature group id -> the commit every part reads
    commits: dict[int, int]
    start: datetime | None
    end: datetime | None
    index: int
    count: int
    chunk_rows: int
    #: this part's slice of a given spine (None: the part of the view's rows in [start, end))
    spine: pa.Table | None = None
    output_kind: OutputKind = "predict"


def score_part(part: Part) -> list[pa.Table]:
    """An executor task: the scored rows of one part (the model loaded once for all its slices)."""
    with part.opener() as project:
        version = project.registry.get_model(part.model)
        view = project.features.get_feature_view(*part.view)
        plan = plan_scoring(version, view, part.output_kind)
        if part.spine is not None:
            return [scored(plan, rows) for rows in spine_slices(view, part.spine, part.chunk_rows)]
        snapshots = view.snapshots_at(part.commits)
        _, batches = view.batch_stream(
            snapshots, part.start, part.end, part.chunk_rows, plan.inputs, partition=(part.index, part.count)
        )
        return [scored(plan, rows) for rows in coalesced(batches, part.chunk_rows)]


def score_in_parts(
    plan: ScoringPlan,
    executor: Executor,
    opener: ProjectOpener,
    *,
    snapshots: dict[int, Snapshot],
    spine: pa.Table | None,
    start: datetime | None,
    end: datetime | None,
    chunk_rows: int,
) -> Iterator[pa.Table]:
    """Score the rows in ``PARTS_PER_WORKER`` parts per executor worker, all at once; the scored rows of every
    part, in part order, each part's as soon as it and those before it are done."""
    count = executor.workers * PARTS_PER_WORKER
    reference = f"{plan.version.name}:{plan.version.version}"
    view = (plan.view.name, plan.view.version)
    commits = {group: item.commit for group, item in snapshots.items() if item.commit is not None}
    if spine is not None:
        bounds = [spine.num_rows * index // count for index in range(count + 1)]
        slices = [spine.slice(bounds[index], bounds[index + 1] - bounds[index]) for index in range(count)]
        parts = [
            Part(opener, reference, view, commits, None, None, index, count, chunk_rows, rows, plan.output_kind)
            for index, rows in enumerate(slices)
            if rows.num_rows
        ]
    else:
        parts = [
            Part(opener, reference, view, commits, start, end, index, count, chunk_rows, None, plan.output_kind)
            for index in range(count)
        ]
    for tables in map_in_order(executor, score_part, parts, "the batch prediction"):
        yield from tables
