"""Deployments, API tokens and the audit log in the serving tables."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fti.backends.catalog.repositories.timestamps import as_utc
from fti.backends.catalog.schema import api_tokens, audit_log, deployments
from fti.core.access import parse_role
from fti.core.audit import AuditEntry
from fti.core.deployments import ApiToken, Deployment, Variant, parse_entity_keys

__all__ = ["SqlAuditRecords", "SqlDeploymentRecords", "SqlTokenRecords"]


class SqlDeploymentRecords:
    """Deployments in the ``deployments`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def find(self, name: str) -> Deployment | None:
        """The deployment ``name``, or None."""
        row = self._connection.execute(sa.select(deployments).where(deployments.c.name == name)).first()
        return None if row is None else _deployment(row)

    def list(self) -> list[Deployment]:
        """Every deployment, by name."""
        rows = self._connection.execute(sa.select(deployments).order_by(deployments.c.name)).all()
        return [_deployment(row) for row in rows]

    def put(self, deployment: Deployment) -> None:
        """Insert ``deployment`` or replace the one with its name (its ``created_at`` is kept)."""
        feature_view, _, version = (deployment.feature_lookup or "").partition(":")
        values: dict[str, Any] = {
            "variants": json.dumps([[variant.reference, variant.share] for variant in deployment.variants]),
            "shadow": deployment.shadow,
            "entity_keys": json.dumps(list(deployment.entity_key_specs)),
            "feature_view_name": feature_view or None,
            "feature_view_version": int(version) if version else None,
            "output_kind": None if deployment.output_kind == "predict" else deployment.output_kind,
            "preprocess": deployment.preprocess,
            "postprocess": deployment.postprocess,
            "combine": deployment.combine,
            "stacker": deployment.stacker,
            "updated_at": deployment.updated_at,
            "etag": deployment.etag,
        }
        updated = self._connection.execute(
            sa.update(deployments).where(deployments.c.name == deployment.name).values(**values)
        )
        if not updated.rowcount:
            self._connection.execute(
                sa.insert(deployments).values(name=deployment.name, created_at=deployment.created_at, **values)
            )

    def delete(self, name: str) -> bool:
        """Delete the deployment ``name``; whether there was one."""
        result = self._connection.execute(sa.delete(deployments).where(deployments.c.name == name))
        return bool(result.rowcount)


def _deployment(row: sa.Row[Any]) -> Deployment:
    values = row._mapping
    view, version = values["feature_view_name"], values["feature_view_version"]
    names, types = parse_entity_keys(str(values["name"]), json.loads(values["entity_keys"]))
    return Deployment(
        name=str(values["name"]),
        variants=tuple(Variant(str(reference), float(share)) for reference, share in json.loads(values["variants"])),
        shadow=values["shadow"],
        entity_keys=names,
        entity_key_types=types,
        feature_lookup=None if view is None else f"{view}:{version}",
        output_kind=values["output_kind"] or "predict",
        preprocess=values["preprocess"],
        postprocess=values["postprocess"],
        combine=values["combine"],
        stacker=values["stacker"],
        etag=str(values["etag"]),
        created_at=as_utc(values["created_at"]),
        updated_at=as_utc(values["updated_at"]),
    )


class SqlTokenRecords:
    """API tokens in the ``api_tokens`` table (sha256 of the secret only)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, token: ApiToken) -> None:
        """Insert a token record."""
        self._connection.execute(
            sa.insert(api_tokens).values(
                id=token.id,
                name=token.name,
                token_sha256=token.token_sha256,
                created_at=token.created_at,
                revoked_at=token.revoked_at,
                role=token.role,
                expires_at=token.expires_at,
            )
        )

    def find(self, name: str) -> ApiToken | None:
        """The token called ``name``, or None."""
        row = self._connection.execute(sa.select(api_tokens).where(api_tokens.c.name == name)).first()
        return None if row is None else _token(row)

    def active_hashes(self) -> list[str]:
        """The sha256 of every unrevoked token."""
        rows = self._connection.execute(sa.select(api_tokens.c.token_sha256).where(api_tokens.c.revoked_at.is_(None)))
        return [str(row[0]) for row in rows]

    def active(self) -> list[ApiToken]:
        """Every unrevoked token (expired ones too: expiry is checked when a token is used)."""
        rows = self._connection.execute(sa.select(api_tokens).where(api_tokens.c.revoked_at.is_(None)))
        return [_token(row) for row in rows]

    def revoke(self, name: str, revoked_at: datetime) -> None:
        """Mark the token ``name`` revoked."""
        self._connection.execute(sa.update(api_tokens).where(api_tokens.c.name == name).values(revoked_at=revoked_at))

    def list(self) -> list[ApiToken]:
        """Every token, oldest first (then by name)."""
        rows = self._connection.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.name))
        return [_token(row) for row in rows]


def _token(row: sa.Row[Any]) -> ApiToken:
    values = row._mapping
    revoked, expires = values["revoked_at"], values["expires_at"]
    return ApiToken(
        id=str(values["id"]),
        name=str(values["name"]),
        token_sha256=str(values["token_sha256"]),
        created_at=as_utc(values["created_at"]),
        revoked_at=None if revoked is None else as_utc(revoked),
        role=parse_role(str(values["role"])),
        expires_at=None if expires is None else as_utc(expires),
    )


class SqlAuditRecords:
    """The ``audit_log`` table: one row per recorded change, ids increasing."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def append(self, entry: AuditEntry) -> int:
        """Record ``entry``; its id."""
        result = self._connection.execute(
            sa.insert(audit_log).values(
                at=entry.at, actor=entry.actor, action=entry.action, target=entry.target, detail=dict(entry.detail)
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def list(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first, at most ``limit``, optionally only ``actor``'s, one action's (or a prefix
        of actions ending in ``.``: ``token.``), or those from ``since`` on."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(
                audit_log.c.action.startswith(action, autoescape=True)
                if action.endswith(".")
                else audit_log.c.action == action
            )
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        return [_audit(row) for row in self._connection.execute(query)]


def _audit(row: sa.Row[Any]) -> AuditEntry:
    values = row._mapping
    return AuditEntry(
        at=as_utc(values["at"]),
        actor=str(values["actor"]),
        action=str(values["action"]),
        target=str(values["target"]),
        detail=dict(values["detail"] or {}),
        id=int(values["id"]),
    )
