"""Deployments and API tokens in the catalog: what ``project.deploy`` and ``fti tokens`` manage.

A deployment names model references (resolved by the registry on every refresh, so a moved alias is
served without re-deploying), an optional shadow, routing keys and the feature view that ``entities``
requests read from, what it answers (``output_kind``), its pre- and postprocessing functions and, for an
ensemble, how its variants are combined. Everything is checked before it is written: the models exist,
answer scores when asked to, an ensemble's members fit together, the functions can be imported.
Re-deploying a name replaces it and gives it a new etag, which the server notices. API tokens are stored
as their sha256 only; the secret is returned once, when created. Token and deployment changes are recorded in
the audit log in the same transaction.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fti.core.access import DEFAULT_ROLE, Role, parse_role
from fti.core.audit import AuditEntry, audit_entry
from fti.core.deployments import ApiToken, Deployment, parse_entity_keys
from fti.core.events import new_event
from fti.core.naming import validate_identifier
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.faults import kill_point
from fti.inference.ensembles import check_ensemble
from fti.inference.hooks import check_hook
from fti.registry.service import parse_model_ref

if TYPE_CHECKING:
    from fti.backends.ports import CatalogStore
    from fti.features.service import FeatureStore
    from fti.registry.service import ModelRegistry
    from fti.registry.version import ModelVersion

__all__ = ["AuditLog", "DeploymentService", "TokenService", "hash_token"]

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
        variants: Mapping[str, float] | Sequence[str] | str,
        *,
        shadow: str | None = None,
        feature_view: str | tuple[str, int] | None = None,
        entity_key: str | Sequence[str] | None = None,
        output_kind: str = "predict",
        preprocess: str | None = None,
        postprocess: str | None = None,
        combine: str | None = None,
        stacker: str | None = None,
    ) -> Deployment:
        """Create the deployment ``name``, or replace it (same created time, new etag).

        ``variants`` is one reference, references with traffic shares, or a list of references (equal
        shares, as an ensemble's members usually are). ``entity_key`` names a key, or ``"name:int64"`` /
        ``"name:string"`` to declare its type; a key of the feature view takes the view's type. The server
        answers 422 to a request whose key is not of the declared type.
        """
        validate_identifier(name, "deployment name")
        split = _split(variants)
        keys = [entity_key] if isinstance(entity_key, str) else list(entity_key or ())
        for key in parse_entity_keys(name, keys)[0]:
            validate_identifier(key, f"entity key of deployment '{name}'")
        serving = functools.partial(
            Deployment.create,
            name,
            split,
            shadow=shadow,
            entity_keys=keys,
            output_kind=output_kind,
            preprocess=preprocess,
            postprocess=postprocess,
            combine=combine,
            stacker=stacker,
        )
        serving()  # the names and the split, before the registry is asked
        versions = {
            reference: self._check_model(name, reference)
            for reference in (*split, *(ref for ref in (stacker, shadow) if ref is not None))
        }
        self._check_serving(
            name, split=split, versions=versions, output_kind=output_kind, combine=combine, stacker=stacker
        )
        for role, hook in (("preprocess", preprocess), ("postprocess", postprocess)):
            if hook is not None:
                served = [versions[reference] for reference in (*split, *([stacker] if stacker else []))]
                self._check_hook(name, role, hook, served)
        lookup = self._feature_view(name, feature_view)
        created = serving(feature_lookup=lookup, entity_keys=self._typed_keys(name, keys, lookup))
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
            action = "deployment.replace" if existing is not None else "deployment.create"
            tx.audit.append(audit_entry(action, name, variants=dict(split)))
            tx.events.append(new_event("deployment", name, etag=deployment.etag, variants=dict(split)))
            kill_point("deployment.before_commit")
        kill_point("deployment.after_commit")
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
            entity_key=list(current.entity_key_specs),
            output_kind=current.output_kind,
            preprocess=current.preprocess,
            postprocess=current.postprocess,
            combine=current.combine,
            stacker=current.stacker,
        )

    def get_deployment(self, name: str) -> Deployment:
        """The deployment ``name``; NotFoundError names the known ones."""
        with self._catalog.reading() as tx:
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
        with self._catalog.reading() as tx:
            return tx.deployments.list()

    def undeploy(self, name: str) -> None:
        """Delete the deployment ``name``; NotFoundError if there is none."""
        with self._catalog.transaction() as tx:
            if not tx.deployments.delete(name):
                raise NotFoundError(f"Deployment '{name}' does not exist: nothing to undeploy.")
            tx.audit.append(audit_entry("deployment.delete", name))

    def _check_model(self, deployment: str, reference: str) -> ModelVersion:
        parse_model_ref(reference)
        try:
            return self._registry.get_model(reference)
        except NotFoundError as exc:
            raise NotFoundError(
                f"Deployment '{deployment}' refers to model '{reference}', which is missing: {exc}"
            ) from exc

    @staticmethod
    def _check_serving(
        name: str,
        *,
        split: Mapping[str, float],
        versions: Mapping[str, ModelVersion],
        output_kind: str,
        combine: str | None,
        stacker: str | None,
    ) -> None:
        """An ensemble's members fit together; a deployment answering scores serves classifiers."""
        members = [versions[reference] for reference in split]
        if combine is not None:
            chosen = versions[stacker] if stacker is not None else None
            classes = check_ensemble(name, combine, members, chosen)  # type: ignore[arg-type]
            scorers = [] if classes is not None else [chosen or members[0]]
        else:
            scorers = [version for version in members if version.classes is None]
        if output_kind != "predict" and scorers:
            version = scorers[0]
            raise ValidationError(
                f"Deployment '{name}' answers class scores (output_kind='{output_kind}') but model "
                f"'{version.name}' v{version.version} records no classes: serve classifiers logged with their "
                "classes (scikit-learn, XGBoost, LightGBM, or an object with classes_ and predict_proba), or use "
                "output_kind='predict'."
            )

    def _check_hook(self, name: str, role: str, hook: str, versions: list[ModelVersion]) -> None:
        packaged = {path for version in versions for path in self._registry.code_files(version.record)}
        served = ", ".join(f"'{version.name}' v{version.version}" for version in versions)
        check_hook(hook, deployment=name, role=role, packaged=packaged, packaged_by=served)

    def _typed_keys(self, deployment: str, keys: list[str], lookup: str | None) -> list[str]:
        """``keys`` with the types the feature view gives the keys whose type is not declared (the view's
        entity key columns, when its features are online)."""
        names, declared = parse_entity_keys(deployment, keys)
        if lookup is None:
            return keys
        view_name, _, version = lookup.partition(":")
        try:
            served = self._features.get_feature_view(view_name, int(version)).serving_keys()
        except ValidationError:  # features not online: the view says nothing of its keys' types
            return keys
        types = dict(declared)
        for name in names:
            found = served.get(name)
            if name not in types and found is not None:
                if pa.types.is_integer(found):
                    types[name] = "int64"
                elif pa.types.is_string(found) or pa.types.is_large_string(found):
                    types[name] = "string"
        return [f"{name}:{types[name]}" if name in types else name for name in names]

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
    """API tokens: create (secret shown once), revoke, list, verify; each change goes to the audit log."""

    def __init__(self, catalog: CatalogStore) -> None:
        self._catalog = catalog

    def create_token(self, name: str, role: Role = DEFAULT_ROLE, expires_at: datetime | None = None) -> str:
        """A new token called ``name`` with ``role``, expiring at ``expires_at`` (None: never); only its sha256
        is stored, so keep the returned secret."""
        validate_identifier(name, "token name")
        role = parse_role(role)
        now = datetime.now(UTC)
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise ValidationError(
                f"Token '{name}' would expire at {expires_at}, which is "
                + ("not a time with a zone (give UTC)." if expires_at.tzinfo is None else "already past.")
            )
        secret = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = ApiToken(uuid.uuid4().hex, name, hash_token(secret), now, role=role, expires_at=expires_at)
        with self._catalog.transaction() as tx:
            if tx.tokens.find(name) is not None:
                raise ConflictError(f"API token '{name}' already exists: pick another name or revoke and rename.")
            tx.tokens.add(record)
            expires = None if expires_at is None else expires_at.isoformat()
            tx.audit.append(audit_entry("token.create", name, role=role, expires_at=expires))
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
                tx.audit.append(audit_entry("token.revoke", name))

    def list_tokens(self) -> list[ApiToken]:
        """Every token record (never the secrets), oldest first."""
        with self._catalog.reading() as tx:
            return tx.tokens.list()

    def active_hashes(self) -> frozenset[str]:
        """The sha256 of every unrevoked token."""
        with self._catalog.reading() as tx:
            return frozenset(tx.tokens.active_hashes())

    def active_tokens(self) -> list[ApiToken]:
        """Every unrevoked token's record (expired ones too: callers check expiry when a token is used)."""
        with self._catalog.reading() as tx:
            return tx.tokens.active()


class AuditLog:
    """The audit log: record a change under the current actor, and read the log back."""

    def __init__(self, catalog: CatalogStore) -> None:
        self._catalog = catalog

    def record(self, action: str, target: str, **detail: Any) -> None:
        """Append one entry for ``action`` on ``target`` by the current actor (:func:`fti.core.audit.acting_as`)."""
        with self._catalog.transaction() as tx:
            tx.audit.append(audit_entry(action, target, **detail))

    def entries(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first, at most ``limit``; ``action`` ending in ``.`` matches a family
        (``token.``)."""
        if limit < 1:
            raise ValidationError(f"limit must be at least 1, got {limit}.")
        with self._catalog.reading() as tx:
            return tx.audit.list(limit=limit, actor=actor, action=action, since=since)


def _split(variants: Mapping[str, float] | Sequence[str] | str) -> dict[str, float]:
    if isinstance(variants, str):
        return {variants: 1.0}
    if isinstance(variants, Mapping):
        return dict(variants)
    references = list(variants)
    if len(set(references)) != len(references):
        raise ValidationError(f"The variants {references} name a model reference twice: name each once.")
    return {reference: 1.0 / len(references) for reference in references} if references else {}


def _parse_view(lookup: str | None) -> tuple[str, int] | None:
    if lookup is None:
        return None
    view, _, version = lookup.partition(":")
    return (view, int(version)) if version else (view, 1)
