"""Deleting runs: refused while lineage needs them, then the catalog rows in one transaction, then the files.

A run is needed by the model versions it logged (their files live under the run's artifact folder and their
lineage names it): those are deleted first (``fti models delete``), never along with the run. Nested runs
(tuning trials) go with their parent only when asked (``force``), as their parent's record says what they were.
Catalog rows go first, in one transaction, then the files under ``runs/<id>/``: a crash in between leaves
orphan files, never a run whose files are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fti.core.tracking import Comparison, RunSearch
from fti.errors import ConflictError

if TYPE_CHECKING:
    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore, CatalogTransaction

__all__ = ["DeletedRuns", "delete_run"]

#: how many names an error lists before "and N more"
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class DeletedRuns:
    """What :func:`delete_run` removed: the run ids (the run, then its nested runs) and the files."""

    run_ids: tuple[str, ...]
    files: int


def delete_run(
    catalog: CatalogStore, artifacts: ArtifactService, run_id: str, *, force: bool, active: set[str]
) -> DeletedRuns:
    """Delete the run ``run_id`` (a full id), with its nested runs when ``force``.

    Raises:
        ConflictError: the run (or a nested one) logged model versions, is running here, or has nested runs
            and ``force`` is not set; nothing is deleted.
    """
    with catalog.transaction() as tx:
        ids = [run_id, *_nested(tx, run_id)]
        if len(ids) > 1 and not force:
            raise ConflictError(
                f"Run '{run_id}' has {len(ids) - 1} nested run(s) ({_names(ids[1:])}): pass force=True "
                "(fti runs delete --force) to delete them with it."
            )
        running = [item for item in ids if item in active]
        if running:
            raise ConflictError(f"Run(s) {_names(running)} are running in this process: end them before deleting.")
        versions = tx.registry.versions_for_runs(ids)
        if versions:
            shown = _names([f"{item.name}:{item.version}" for item in versions])
            raise ConflictError(
                f"Run '{run_id}' logged model version(s) {shown}, whose files and lineage need it: delete them "
                "first (fti models delete NAME:VERSION), then the run."
            )
        keys = [record.key for item in ids for record in tx.artifacts.list(f"runs/{item}/")]
        tx.artifacts.delete(keys)
        tx.tracking.delete_runs(ids)
    files = sum(artifacts.delete_files(f"runs/{item}/") for item in ids)
    return DeletedRuns(tuple(ids), files)


def _nested(tx: CatalogTransaction, run_id: str) -> list[str]:
    """Every run nested in ``run_id``, at any depth, parents before children."""
    found: list[str] = []
    parents = [run_id]
    while parents:
        children = [
            info.id
            for parent in parents
            for info in tx.tracking.search_runs(
                RunSearch(filter=Comparison(kind="attribute", key="parent_run_id", op="=", value=parent))
            )
        ]
        found.extend(children)
        parents = children
    return found


def _names(items: list[str]) -> str:
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more
