"""The contract every catalog store passes for deployment and API token records and the audit log.

Subclass :class:`DeploymentRecordsContract`, :class:`TokenRecordsContract` and :class:`AuditRecordsContract` and
provide a fixture
``catalog_store`` yielding an open store on an empty database (the suites upgrade it).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from fti.core.audit import AuditEntry
from fti.core.deployments import ApiToken, Deployment, Variant

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore

__all__ = ["AuditRecordsContract", "DeploymentRecordsContract", "TokenRecordsContract"]

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _deployment(name: str, etag: str = "e1", *, minutes: int = 0) -> Deployment:
    return Deployment(
        name=name,
        variants=(Variant("fraud@champion", 0.75), Variant("fraud:2", 0.25)),
        shadow="fraud_shadow@latest",
        entity_keys=("cc_num", "merchant"),
        feature_lookup="fraud:3",
        etag=etag,
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
    )


def _token(name: str, digest: str, *, minutes: int = 0) -> ApiToken:
    return ApiToken(id=f"id-{name}", name=name, token_sha256=digest * 64, created_at=T0 + timedelta(minutes=minutes))


class DeploymentRecordsContract:
    """Behaviour shared by every catalog store's deployment records."""

    @pytest.fixture(autouse=True)
    def _upgraded(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()

    def test_a_deployment_reads_back_as_written(self, catalog_store: CatalogStore) -> None:
        written = _deployment("fraud")
        plain = Deployment("plain", (Variant("m", 1.0),), etag="e", created_at=T0, updated_at=T0)
        with catalog_store.transaction() as tx:
            tx.deployments.put(written)
            tx.deployments.put(plain)
        with catalog_store.transaction() as tx:
            assert tx.deployments.find("fraud") == written
            assert tx.deployments.find("plain") == plain
            assert tx.deployments.find("nope") is None

    def test_deployments_are_listed_by_name(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            assert tx.deployments.list() == []
            for name in ("solo", "ab", "fraud"):
                tx.deployments.put(_deployment(name))
        with catalog_store.transaction() as tx:
            assert [item.name for item in tx.deployments.list()] == ["ab", "fraud", "solo"]

    def test_put_replaces_a_deployment_and_keeps_its_creation_time(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            tx.deployments.put(_deployment("fraud"))
        replacement = dataclasses.replace(
            _deployment("fraud", "e2", minutes=5),
            variants=(Variant("fraud:3", 1.0),),
            shadow=None,
            entity_keys=(),
            feature_lookup=None,
            created_at=T0 + timedelta(days=1),
        )
        with catalog_store.transaction() as tx:
            tx.deployments.put(replacement)
        with catalog_store.transaction() as tx:
            assert tx.deployments.find("fraud") == dataclasses.replace(replacement, created_at=T0)
            assert len(tx.deployments.list()) == 1

    def test_delete_says_whether_there_was_one(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            tx.deployments.put(_deployment("fraud"))
        with catalog_store.transaction() as tx:
            assert tx.deployments.delete("fraud") is True
            assert tx.deployments.delete("fraud") is False
            assert tx.deployments.find("fraud") is None

    def test_a_failed_transaction_writes_no_deployment(self, catalog_store: CatalogStore) -> None:
        with pytest.raises(RuntimeError), catalog_store.transaction() as tx:
            tx.deployments.put(_deployment("fraud"))
            raise RuntimeError("boom")
        with catalog_store.transaction() as tx:
            assert tx.deployments.list() == []


class TokenRecordsContract:
    """Behaviour shared by every catalog store's API token records."""

    @pytest.fixture(autouse=True)
    def _upgraded(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()

    def test_tokens_read_back_and_list_oldest_first(self, catalog_store: CatalogStore) -> None:
        later, earlier = _token("later", "b", minutes=5), _token("earlier", "a")
        with catalog_store.transaction() as tx:
            tx.tokens.add(later)
            tx.tokens.add(earlier)
        with catalog_store.transaction() as tx:
            assert tx.tokens.find("later") == later and tx.tokens.find("nope") is None
            assert tx.tokens.list() == [earlier, later]
            assert sorted(tx.tokens.active_hashes()) == ["a" * 64, "b" * 64]

    def test_a_revoked_token_is_kept_but_not_active(self, catalog_store: CatalogStore) -> None:
        with catalog_store.transaction() as tx:
            tx.tokens.add(_token("ci", "a"))
            tx.tokens.add(_token("cd", "b"))
        with catalog_store.transaction() as tx:
            tx.tokens.revoke("ci", T0 + timedelta(hours=1))
        with catalog_store.transaction() as tx:
            revoked = tx.tokens.find("ci")
            assert revoked is not None and revoked.revoked_at == T0 + timedelta(hours=1) and revoked.is_revoked
            assert tx.tokens.active_hashes() == ["b" * 64]
            assert [token.name for token in tx.tokens.list()] == ["cd", "ci"]  # created together: by name

    @pytest.mark.parametrize("clash", ["name", "digest"])
    def test_a_name_or_a_digest_is_added_once(self, catalog_store: CatalogStore, clash: str) -> None:
        with catalog_store.transaction() as tx:
            tx.tokens.add(_token("ci", "a"))
        again = _token("ci", "b") if clash == "name" else _token("other", "a")
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"), catalog_store.transaction() as tx:
            tx.tokens.add(dataclasses.replace(again, id="id-again"))
        with catalog_store.transaction() as tx:
            assert [token.name for token in tx.tokens.list()] == ["ci"]

    def test_a_role_and_an_expiry_read_back_and_expired_tokens_stay_active_records(
        self, catalog_store: CatalogStore
    ) -> None:
        reader = dataclasses.replace(_token("reader", "a"), role="read", expires_at=T0 + timedelta(days=30))
        with catalog_store.transaction() as tx:
            tx.tokens.add(reader)
            tx.tokens.add(_token("scorer", "b"))
            tx.tokens.add(_token("gone", "c"))
            tx.tokens.revoke("gone", T0)
        with catalog_store.transaction() as tx:
            assert tx.tokens.find("reader") == reader
            assert tx.tokens.find("scorer") == _token("scorer", "b")  # the default role, no expiry
            active = sorted(tx.tokens.active(), key=lambda token: token.name)
        assert [token.name for token in active] == ["reader", "scorer"]  # expiry is checked where a token is used
        assert not reader.is_active(T0 + timedelta(days=31)) and reader.is_active(T0)


class AuditRecordsContract:
    """Behaviour shared by every catalog store's audit log."""

    @pytest.fixture(autouse=True)
    def _upgraded(self, catalog_store: CatalogStore) -> None:
        catalog_store.upgrade()

    def test_entries_read_back_newest_first_and_filter(self, catalog_store: CatalogStore) -> None:
        entries = [
            AuditEntry(T0, "local:ops", "token.create", "ci", {"role": "predict", "expires_at": None}),
            AuditEntry(T0 + timedelta(minutes=1), "ci", "deployment.create", "fraud", {"variants": {"a": 1.0}}),
            AuditEntry(T0 + timedelta(minutes=2), "local:ops", "token.revoke", "ci"),
        ]
        with catalog_store.transaction() as tx:
            ids = [tx.audit.append(entry) for entry in entries]
        assert ids == sorted(ids) and len(set(ids)) == 3
        with catalog_store.transaction() as tx:
            stored = [dataclasses.replace(entry, id=entry_id) for entry, entry_id in zip(entries, ids, strict=True)]
            assert tx.audit.list() == stored[::-1]
            assert [entry.action for entry in tx.audit.list(actor="ci")] == ["deployment.create"]
            assert [entry.action for entry in tx.audit.list(action="token.")] == ["token.revoke", "token.create"]
            assert [entry.action for entry in tx.audit.list(action="token")] == []  # no family without the dot
            assert [entry.action for entry in tx.audit.list(since=T0 + timedelta(minutes=1))] == [
                "token.revoke",
                "deployment.create",
            ]
            assert len(tx.audit.list(limit=1)) == 1
