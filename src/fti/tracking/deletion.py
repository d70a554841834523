"""Deleting runs and experiments: refused while lineage needs them, then the catalog rows in one transaction,
then the files.

A run is needed by the model versions it logged (their files live under the run's artifact folder and their
lineage names it): those are deleted first (``fti models delete``), never along with the run. Nested runs
(tuning trials) go with their parent only when asked (``force``), as their parent's record says what they were.
Catalog rows go first, in one transaction, then the files under ``runs/<id>/``: a crash in between leaves
orphan files, never a run whose files are missing. An experiment goes with its runs only when asked (``force``),
by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fti.core.audit import audit_entry
from fti.core.tracking import Comparison, RunSearch
from fti.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore, CatalogTransaction

__all__ = ["DeletedExperiment", "DeletedRuns", "delete_experiment", "delete_run"]

#: how many names an error lists before "and N more"
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class DeletedRuns:
    """What :func:`delete_run` removed: the run ids (the run, then its nested runs) and the files."""

    run_ids: tuple[str, ...]
    files: int


@dataclass(frozen=True, slots=True)
class DeletedExperiment:
    """What :func:`delete_experiment` removed: the experiment and its runs."""

    name: str
    runs: DeletedRuns


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
        _delete_rows(tx, ids, (f"Run '{run_id}'", "the run"), active)
        tx.audit.append(audit_entry("run.delete", run_id, runs=ids))
    return DeletedRuns(tuple(ids), _delete_files(artifacts, ids))


def delete_experiment(
    catalog: CatalogStore, artifacts: ArtifactService, name: str, *, force: bool, active: set[str]
) -> DeletedExperiment:
    """Delete the experiment ``name``, with its runs (and theirs nested) when ``force``.

    Raises:
        NotFoundError: there is no such experiment.
        ConflictError: it has runs and ``force`` is not set, or one of them logged model versions or is running
            here; nothing is deleted.
    """
    with catalog.transaction() as tx:
        known = [item.name for item in tx.tracking.list_experiments()]
        if name not in known:
            raise NotFoundError(f"Experiment '{name}' does not exist; experiments: {', '.join(known) or 'none'}.")
        own = [info.id for info in tx.tracking.search_runs(RunSearch(experiments=(name,)))]
        ids = list(dict.fromkeys([*own, *(nested for item in own for nested in _nested(tx, item))]))
        if ids and not force:
            raise ConflictError(
                f"Experiment '{name}' has {len(ids)} run(s) ({_names(ids)}): pass force=True "
                "(fti runs delete-experiment --force) to delete them with it."
            )
        _delete_rows(tx, ids, (f"Experiment '{name}'", "the experiment"), active)
        tx.tracking.delete_experiment(name)
        tx.audit.append(audit_entry("experiment.delete", name, runs=ids))
    return DeletedExperiment(name, DeletedRuns(tuple(ids), _delete_files(artifacts, ids)))


def _delete_rows(tx: CatalogTransaction, ids: list[str], what: tuple[str, str], active: set[str]) -> None:
    """Delete the runs ``ids`` (nested runs included) from the catalog, unless one is running or logged models."""
    running = [item for item in ids if item in active]
    if running:
        raise ConflictError(f"Run(s) {_names(running)} are running in this process: end them before deleting.")
    versions = tx.registry.versions_for_runs(ids) if ids else []
    if versions:
        shown = _names([f"{item.name}:{item.version}" for item in versions])
        raise ConflictError(
            f"{what[0]} logged model version(s) {shown}, whose files and lineage need it: delete them "
            f"first (fti models delete NAME:VERSION), then {what[1]}."
        )
    keys = [record.key for item in ids for record in tx.artifacts.list(f"runs/{item}/")]
    tx.artifacts.delete(keys)
    tx.tracking.delete_runs(ids)


def _delete_files(artifacts: ArtifactService, ids: list[str]) -> int:
    return sum(artifacts.delete_files(f"runs/{item}/") for item in ids)


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
