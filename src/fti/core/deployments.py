"""Deployments: a named serving endpoint with one or more model versions and a traffic split.

A deployment is a frozen value. The server compares ``etag`` to notice that it changed, and each model
reference (``"fraud"``, ``"fraud:3"``, ``"fraud@champion"``) is resolved by the model registry.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fti.errors import ValidationError

__all__ = ["ApiToken", "Deployment", "Variant"]

_SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Variant:
    """One model reference of a deployment and the share of traffic it answers."""

    reference: str
    share: float


@dataclass(frozen=True, slots=True)
class Deployment:
    """A named serving endpoint: variants with traffic shares, an optional shadow, routing keys.

    Attributes:
        name: the deployment's name, the ``{name}`` of ``/v1/deployments/{name}/predict``.
        variants: model references with their shares of traffic; shares sum to 1.
        shadow: a model reference that gets a copy of all traffic; its answers are logged, never returned.
        entity_keys: columns whose values pin a caller to a variant (sticky assignment); empty means random.
        feature_lookup: the feature view the server reads features from for ``entities`` requests.
        etag: changes whenever anything above changes; the server reloads when it does.
        created_at: when the deployment was first deployed (None for one that was never stored).
        updated_at: when it was last deployed.
    """

    name: str
    variants: tuple[Variant, ...]
    shadow: str | None = None
    entity_keys: tuple[str, ...] = ()
    feature_lookup: str | None = None
    etag: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def create(
        cls,
        name: str,
        variants: Mapping[str, float],
        *,
        shadow: str | None = None,
        entity_keys: Sequence[str] = (),
        feature_lookup: str | None = None,
    ) -> Deployment:
        """Validate the traffic split and build a deployment whose etag hashes its contents.

        Example:
            >>> Deployment.create("fraud", {"fraud@champion": 0.9, "fraud@challenger": 0.1}).references
            ('fraud@champion', 'fraud@challenger')
        """
        if not name:
            raise ValidationError("A deployment needs a name: pass name='fraud' or similar.")
        if not variants:
            raise ValidationError(
                f"Deployment '{name}' has no variants: pass variants={{'model@champion': 1.0}} at least."
            )
        for reference, share in variants.items():
            if not (math.isfinite(share) and share > 0):
                raise ValidationError(
                    f"Deployment '{name}' gives variant '{reference}' the share {share}; "
                    "shares must be positive numbers that sum to 1."
                )
        total = sum(variants.values())
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise ValidationError(
                f"Deployment '{name}' has variant shares summing to {total:g}, not 1: adjust the shares."
            )
        if shadow is not None and shadow in variants:
            raise ValidationError(
                f"Deployment '{name}' uses '{shadow}' both as a variant and as its shadow: pick one role."
            )
        keys = tuple(entity_keys)
        body = repr((name, sorted(variants.items()), shadow, keys, feature_lookup))
        etag = hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
        return cls(
            name=name,
            variants=tuple(Variant(reference, float(share)) for reference, share in variants.items()),
            shadow=shadow,
            entity_keys=keys,
            feature_lookup=feature_lookup,
            etag=etag,
        )

    @property
    def references(self) -> tuple[str, ...]:
        """The variants' model references, in order."""
        return tuple(variant.reference for variant in self.variants)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record: only the sha256 of the secret is kept, never the secret itself."""

    id: str
    name: str
    token_sha256: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        """Whether the token was revoked."""
        return self.revoked_at is not None
