"""Collecting the files of registrations that never finished: a process killed while it uploaded a model's files
(or before it recorded the version) leaves them, with their artifact records, under
``runs/<run>/models/<name>-<id>/``, where no model version points.

Nothing reads them, and deleting the run removes them; :func:`collect_unregistered` removes them sooner. Only the
folders of runs that no longer run are collected (a registration runs inside its run), and only once their newest
file is older than ``grace``, so a registration still uploading through a handle joined to an ended run keeps its
files. Records go first, in one transaction, then the files, as every deletion does: a crash in between leaves
only files without records, which nothing reads and the run's deletion removes (a later collection, which
finds folders by their records, does not see them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fti.core.audit import audit_entry
from fti.core.tracking import RunStatus
from fti.errors import ValidationError

if TYPE_CHECKING:
    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore
    from fti.core.records import ArtifactRecord

__all__ = ["CollectedFiles", "collect_unregistered"]


@dataclass(frozen=True, slots=True)
class CollectedFiles:
    """What :func:`collect_unregistered` removed: each folder (``runs/<run>/models/<name>-<id>/``) and the files."""

    folders: tuple[str, ...]
    files: int


def collect_unregistered(
    catalog: CatalogStore, artifacts: ArtifactService, *, grace: timedelta = timedelta(minutes=10)
) -> CollectedFiles:
    """Remove the model files no version points at, of runs that ended, whose newest file is older than ``grace``.

    Raises:
        ValidationError: ``grace`` is not a timedelta of zero or more; nothing is removed.
    """
    if not isinstance(grace, timedelta) or grace < timedelta(0):
        raise ValidationError(f"grace must be a timedelta of zero or more, e.g. timedelta(minutes=10); got {grace!r}.")
    folders = _model_folders(artifacts.list("runs/"))
    if not folders:
        return CollectedFiles((), 0)
    cutoff = datetime.now(UTC) - grace
    with catalog.transaction() as tx:
        run_ids = sorted({folder.split("/")[1] for folder in folders})
        registered = {item.artifact_prefix.rstrip("/") + "/" for item in tx.registry.versions_for_runs(run_ids)}
        ended = set()
        for run_id in run_ids:
            info = tx.tracking.find_run(run_id)
            if info is None or info.status is not RunStatus.RUNNING:
                ended.add(run_id)
        chosen = sorted(
            folder
            for folder, records in folders.items()
            if folder not in registered
            and folder.split("/")[1] in ended
            and max(record.created_at for record in records) < cutoff
        )
        keys = [record.key for folder in chosen for record in folders[folder]]
        if keys:
            tx.artifacts.delete(keys)
        for folder in chosen:
            tx.audit.append(audit_entry("model_files.collect", folder, files=len(folders[folder])))
    return CollectedFiles(tuple(chosen), sum(artifacts.delete_files(folder) for folder in chosen))


def _model_folders(records: list[ArtifactRecord]) -> dict[str, list[ArtifactRecord]]:
    """The records under each ``runs/<run>/models/<folder>/``."""
    folders: dict[str, list[ArtifactRecord]] = {}
    for record in records:
        parts = record.key.split("/", 4)
        if len(parts) == 5 and parts[2] == "models":
            folders.setdefault("/".join(parts[:4]) + "/", []).append(record)
    return folders
