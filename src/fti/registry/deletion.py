"""Deleting a model version: refused while something serves it or an alias names it, then the catalog rows in one
transaction, then its files.

A deployment whose variants, stacker or shadow resolve to the version blocks its deletion whatever ``force``
says (the server would lose the model): undeploy or change the deployment first. An alias pointing at it is
removed only with ``force``, recorded in the alias history like any other move. The version's number is never
given again. Catalog rows go first, then the files under the version's artifact folder: a crash in between leaves
orphan files, never a version whose files are missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fti.core.audit import audit_entry
from fti.core.registry import AliasMove
from fti.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore

__all__ = ["DeletedVersion", "delete_version"]


@dataclass(frozen=True, slots=True)
class DeletedVersion:
    """What :func:`delete_version` removed: the version, the aliases that pointed at it, and the files."""

    name: str
    version: int
    aliases: tuple[str, ...]
    files: int


def delete_version(
    catalog: CatalogStore,
    artifacts: ArtifactService,
    name: str,
    version: int,
    *,
    force: bool,
    resolves_to: Callable[[str], tuple[str, int] | None],
    changed_by: str,
) -> DeletedVersion:
    """Delete model ``name`` v``version``.

    Args:
        resolves_to: the ``(name, version)`` a model reference resolves to now, or None when it resolves to nothing.
        changed_by: who deletes, for the alias history.

    Raises:
        NotFoundError: there is no such version.
        ConflictError: a deployment serves it, or an alias points at it and ``force`` is not set.
    """
    with catalog.transaction() as tx:
        deployments = tx.deployments.list()
    # references resolve in transactions of their own, before the deleting one starts
    serving = sorted(
        {
            deployment.name
            for deployment in deployments
            for reference in deployment.loaded_references
            if reference.partition("@")[0].partition(":")[0] == name and resolves_to(reference) == (name, version)
        }
    )
    if serving:
        raise ConflictError(
            f"Model '{name}' v{version} is served by deployment(s) {', '.join(serving)}: undeploy them or deploy "
            "another version first, then delete it."
        )
    with catalog.transaction() as tx:
        record = tx.registry.find_version(name, version)
        if record is None:
            raise NotFoundError(
                f"Model '{name}' has no version {version}: list its versions with `fti models show {name}`."
            )
        model = tx.registry.find_model(name)
        aliases = sorted(alias for alias, target in (model.aliases if model else {}).items() if target == version)
        if aliases and not force:
            raise ConflictError(
                f"Model '{name}' v{version} is the target of alias(es) {', '.join(aliases)}: move them first, or pass "
                "force=True (fti models delete --force) to remove them with it."
            )
        now = datetime.now(UTC)
        for alias in aliases:
            current = tx.registry.find_alias(name, alias)
            is_protected = bool(current and current.is_protected)
            reason = f"version {version} deleted"
            tx.registry.delete_alias(
                name, alias, AliasMove(name, alias, version, None, is_protected, True, changed_by, now, reason)
            )
        prefix = record.artifact_prefix.rstrip("/") + "/"
        tx.artifacts.delete([item.key for item in tx.artifacts.list(prefix)])
        tx.registry.delete_version(name, version)
        tx.audit.append(audit_entry("model_version.delete", f"{name}:{version}", aliases=aliases, force=force))
    return DeletedVersion(name, version, tuple(aliases), artifacts.delete_files(prefix))
