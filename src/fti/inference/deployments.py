"""Deployments and API tokens in the catalog: what ``project.deploy`` and ``fti tokens`` manage.

A deployment names model references (resolved by the registry on every refresh, so a moved alias is
served without re-deploying), an optional shadow, routing keys and the feature view that ``entities``
requests read from. Re-deploying a name replaces it and gives it a new etag, which the server notices.
API tokens are stored as their sha256 only; the secret is returned once, when created.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fti.core.deployments import ApiToken, Deployment
from fti.core.events import new_event
from fti.core.naming import validate_identifier
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.registry.service import parse_model_ref

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore
    from fti.features.service import FeatureStore
    from fti.registry.service import ModelRegistry

__all__ = ["DeploymentService", "TokenService", "hash_token"]

_TOKEN_PREFIX = "fti_"


def hash_token(token: str) -> str:
    """The sha256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class DeploymentService:
    """Create, read and delete deployments, checking every reference before writing."""

    def __init__(self, catalog: CatalogStore, registry: ModelRegistry, features: FeatureStore) -> None:
        self._catalog = catalog
        self._registry = registry
        self._features = features

    def deploy(
        self,
        name: str,
        variants: Mapping[str, float] | str,
        *,
        shadow: str | None = None,
        feature_view: str | tuple[str, int] | None = None,
        entity_key: str | Sequence[str] | None = None,
    ) -> Deployment:
        """Create the deployment ``name``, or replace it (same created time, new etag)."""
        validate_identifier(name, "deployment name")
        split = {variants: 1.0} if isinstance(variants, str) else dict(variants)
        for reference in (*split, *((shadow,) if shadow is not None else ())):
            self._check_model(name, reference)
        lookup = self._feature_view(name, feature_view)
        keys = [entity_key] if isinstance(entity_key, str) else list(entity_key or ())
        for key in keys:
            validate_identifier(key, f"entity key of deployment '{name}'")
        created = Deployment.create(name, split, shadow=shadow, entity_keys=keys, feature_lookup=lookup)
        now = datetime.now(UTC)
        with self._catalog.transaction() as tx:
            existing = tx.deployments.find(name)
            deployment = dataclasses.replace(
                created,
                etag=uuid.uuid4().hex,
                created_at=existing.created_at if existing is not None else now,
                updated_at=now,
            )
            tx.deployments.put(deployment)
            tx.events.append(new_event("deployment", name, etag=deployment.etag, variants=dict(split)))
        return deployment

    def add_variant(self, name: str, reference: str, share: float) -> Deployment:
        """Give ``reference`` ``share`` of the deployment's traffic, scaling the other variants down.

        Used by automated retraining to put a challenger into the A/B split.
        """
        if not 0 < share < 1:
            raise ValidationError(f"Share {share} for '{reference}' in deployment '{name}' must be between 0 and 1.")
        current = self.get_deployment(name)
        others = {variant.reference: variant.share for variant in current.variants if variant.reference != reference}
        total = sum(others.values())
        split = {ref: value * (1 - share) / total for ref, value in others.items()} if total else {}
        split[reference] = share if split else 1.0
        return self.deploy(
            name,
            split,
            shadow=current.shadow,
            feature_view=_parse_view(current.feature_lookup),
            entity_key=list(current.entity_keys),
        )

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name``; NotFoundError names the known ones."""
        with self._catalog.transaction() as tx:
            deployment = tx.deployments.find(name)
            if deployment is None:
                known = [item.name for item in tx.deployments.list()]
        if deployment is None:
            raise NotFoundError(
                f"Deployment '{name}' does not exist (deployments: {', '.join(known) or 'none'}); "
                f"create it with project.deploy('{name}', variants={{'model@champion': 1.0}})."
            )
        return deployment

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by name."""
        with self._catalog.transaction() as tx:
            return tx.deployments.list()

    def undeploy(self, name: str) -> None:
        """Delete the deployment ``name``; NotFoundError if there is none."""
        with self._catalog.transaction() as tx:
            if not tx.deployments.delete(name):
                raise NotFoundError(f"Deployment '{name}' does not exist: nothing to undeploy.")

    def _check_model(self, deployment: str, reference: str) -> None:
        parse_model_ref(reference)
        try:
            self._registry.get_model(reference)
        except NotFoundError as exc:
            raise NotFoundError(
                f"Deployment '{deployment}' refers to model '{reference}', which is missing: {exc}"
            ) from exc

    def _feature_view(self, deployment: str, feature_view: str | tuple[str, int] | None) -> str | None:
        if feature_view is None:
            return None
        version: int | None
        if isinstance(feature_view, tuple):
            view_name, version = feature_view
        else:
            view_name, _, text = feature_view.partition(":")
            if text and not text.isdigit():
                raise ValidationError(
                    f"Deployment '{deployment}' names feature view '{feature_view}': use 'name' or 'name:2'."
                )
            version = int(text) if text else None
        view = self._features.get_feature_view(view_name, version)
        return f"{view.name}:{view.version}"


class TokenService:
    """API tokens for the model server: create (secret shown once), revoke, list, verify."""

    def __init__(self, catalog: CatalogStore) -> None:
        self._catalog = catalog

    def create_token(self, name: str) -> str:
        """A new token called ``name``; only its sha256 is stored, so keep the returned secret."""
        validate_identifier(name, "token name")
        secret = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = ApiToken(uuid.uuid4().hex, name, hash_token(secret), datetime.now(UTC))
        with self._catalog.transaction() as tx:
            if tx.tokens.find(name) is not None:
                raise ConflictError(f"API token '{name}' already exists: pick another name or revoke and rename.")
            tx.tokens.add(record)
        return secret

    def revoke_token(self, name: str) -> None:
        """Revoke the token ``name``; servers refuse it within their token cache time."""
        with self._catalog.transaction() as tx:
            token = tx.tokens.find(name)
            if token is None:
                known = ", ".join(item.name for item in tx.tokens.list()) or "none"
                raise NotFoundError(f"API token '{name}' does not exist (tokens: {known}).")
            if token.revoked_at is None:
                tx.tokens.revoke(name, datetime.now(UTC))

    def list_tokens(self) -> list[ApiToken]:
        """Every token record (never the secrets), oldest first."""
        with self._catalog.transaction() as tx:
            return tx.tokens.list()

    def active_hashes(self) -> frozenset[str]:
        """The sha256 of every unrevoked token."""
        with self._catalog.transaction() as tx:
            return frozenset(tx.tokens.active_hashes())


def _parse_view(lookup: str | None) -> tuple[str, int] | None:
    if lookup is None:
        return None
    view, _, version = lookup.partition(":")
    return (view, int(version)) if version else (view, 1)
