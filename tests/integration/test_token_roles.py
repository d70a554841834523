"""Token roles and expiry in the catalog, the audit log, and the upgrade of a catalog whose tokens had no roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import fti
from fti.backends.catalog import store as catalog_store
from fti.backends.catalog.store import SqlCatalogConfig, SqlCatalogStore
from fti.core.access import Identity
from fti.core.audit import acting_as
from fti.errors import ValidationError
from fti.inference.adapters import CatalogTokenStore
from fti.inference.deployments import AuditLog, TokenService, hash_token

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_tokens_from_before_roles_keep_working_as_predict_tokens(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(catalog_store._MIGRATIONS))
    with engine.begin() as connection:  # a catalog as the release before roles left it, with one token
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
        connection.execute(
            sa.text(
                "INSERT INTO api_tokens (id, name, token_sha256, created_at) VALUES ('a1', 'old', :digest, :created)"
            ),
            {"digest": hash_token("fti_old-secret"), "created": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    engine.dispose()
    store = SqlCatalogStore(SqlCatalogConfig(url=url))
    store.open()
    try:
        state = store.upgrade()
        assert state.applied == ("0010",)
        tokens = TokenService(store)
        [old] = tokens.list_tokens()
        assert (old.name, old.role, old.expires_at, old.revoked_at) == ("old", "predict", None, None)
        assert CatalogTokenStore(tokens).identify("fti_old-secret") == Identity("old", "predict")
        with acting_as("ops"):
            tokens.create_token("fresh", "admin")
        [entry] = AuditLog(store).entries()
        assert (entry.actor, entry.action, entry.target) == ("ops", "token.create", "fresh")
        assert entry.detail == {"role": "admin", "expires_at": None}
    finally:
        store.close()


def test_a_token_stops_working_when_it_expires_or_is_revoked(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        secret = project.create_token("nightly", "write", expires="2h")
        [record] = project.tokens()
        assert record.role == "write" and record.expires_at is not None
        assert timedelta(hours=1, minutes=59) < record.expires_at - datetime.now(UTC) <= timedelta(hours=2)
        now = datetime.now(UTC)
        store = CatalogTokenStore(project.api_tokens, now=lambda: now)
        assert store.identify(secret) == Identity("nightly", "write")
        later = CatalogTokenStore(project.api_tokens, now=lambda: now + timedelta(hours=3))
        assert later.identify(secret) is None and not later.verify(secret)
        project.revoke_token("nightly")
        assert CatalogTokenStore(project.api_tokens, now=lambda: now).identify(secret) is None


def test_bad_roles_and_expiries_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        with pytest.raises(ValidationError, match="Unknown role 'root': use one of read, predict, write, admin"):
            project.create_token("ci", "root")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="Expiry 'soon' is neither a duration"):
            project.create_token("ci", "read", expires="soon")
        with pytest.raises(ValidationError, match="Expiry '2001-01-01' is in the past"):
            project.create_token("ci", "read", expires="2001-01-01")
        with pytest.raises(ValidationError, match="already past"):
            project.create_token("ci", "read", expires=datetime(2001, 1, 1, tzinfo=UTC))
        assert project.tokens() == [] and project.audit() == []


def test_the_audit_log_names_who_changed_tokens_deployments_and_aliases(tmp_path: Path) -> None:
    with fti.connect(tmp_path) as project:
        project.create_token("ci", "predict")
        with acting_as("release-bot"):
            project.revoke_token("ci")
        project.revoke_token("ci")  # already revoked: nothing changes, nothing is recorded
        entries = project.audit()
        assert [(entry.action, entry.target) for entry in entries] == [("token.revoke", "ci"), ("token.create", "ci")]
        assert entries[0].actor == "release-bot" and entries[1].actor.startswith("local")
        assert [entry.action for entry in project.audit(actor="release-bot")] == ["token.revoke"]
        assert [entry.action for entry in project.audit(action="token.")] == ["token.revoke", "token.create"]
        assert project.audit(action="token.") == project.audit(action="token.", since=entries[1].at)
        assert len(project.audit(limit=1)) == 1
        with pytest.raises(ValidationError, match="limit must be at least 1"):
            project.audit(limit=0)
        assert all("fti_" not in str(entry) for entry in entries)  # never a secret
