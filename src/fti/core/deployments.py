"""Deployments: a named serving endpoint with one or more model versions and a traffic split.

A deployment is a frozen value. The server compares ``etag`` to notice that it changed, and each model
reference (``"fraud"``, ``"fraud:3"``, ``"fraud@champion"``) is resolved by the model registry.

Its variants are alternatives sharing the traffic, or, with ``combine``, the members of an ensemble
that answers every row together (``weighted_mean`` weighs them by their shares). ``output_kind`` says
what a classifier answers: its ``predict`` labels, its class scores (``proba``) or ``both``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast, get_args

from fti.core.access import DEFAULT_ROLE, Identity, Role
from fti.errors import ValidationError

__all__ = [
    "COMBINE_METHODS",
    "KEY_TYPES",
    "OUTPUT_KINDS",
    "ApiToken",
    "Combine",
    "Deployment",
    "OutputKind",
    "Variant",
    "parse_entity_keys",
]

_SHARE_TOLERANCE = 1e-6
_HOOK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")

OutputKind = Literal["predict", "proba", "both"]
"""What a deployment answers: predictions (a classifier's labels), class scores, or both."""
Combine = Literal["mean", "weighted_mean", "vote", "stacking"]
"""How an ensemble's members are combined."""
OUTPUT_KINDS: tuple[str, ...] = get_args(OutputKind)
COMBINE_METHODS: tuple[str, ...] = get_args(Combine)
#: the types an entity key may be declared with (``"cc_num:int64"``)
KEY_TYPES = ("int64", "string")


def parse_entity_keys(deployment: str, keys: Sequence[str]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Entity keys given as ``"name"`` or ``"name:type"`` (a type of :data:`KEY_TYPES`): the names, and the
    declared ``(name, type)`` pairs.

    Example:
        >>> parse_entity_keys("fraud", ["cc_num:int64", "merchant"])
        (('cc_num', 'merchant'), (('cc_num', 'int64'),))

    Raises:
        ValidationError: a type is not one of :data:`KEY_TYPES`.
    """
    names: list[str] = []
    types: list[tuple[str, str]] = []
    for key in keys:
        name, _, declared = key.partition(":")
        names.append(name)
        if not declared:
            continue
        if declared not in KEY_TYPES:
            raise ValidationError(
                f"Deployment '{deployment}' declares entity key '{name}' as {declared!r}: use one of "
                f"{', '.join(KEY_TYPES)}, as in '{name}:int64'."
            )
        types.append((name, declared))
    return tuple(names), tuple(types)


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
        entity_key_types: ``(key, type)`` of the entity keys whose type is declared (``int64`` or ``string``):
            the server refuses other values, so the request log keeps one type per key.
        feature_lookup: the feature view the server reads features from for ``entities`` requests.
        output_kind: ``predict`` (labels of a classifier, values of a regressor), ``proba`` (class scores)
            or ``both``.
        preprocess: ``"module:function"`` turning each request's frame into the models' inputs.
        postprocess: ``"module:function"`` turning ``(predictions, features)`` into the predictions returned.
        combine: None for a traffic split; else the variants are an ensemble's members, combined by
            ``mean``, ``weighted_mean`` (by their shares), ``vote`` or ``stacking``.
        stacker: the model reference that combines the members' outputs when ``combine`` is ``stacking``.
        etag: changes whenever anything above changes; the server reloads when it does.
        created_at: when the deployment was first deployed (None for one that was never stored).
        updated_at: when it was last deployed.
    """

    name: str
    variants: tuple[Variant, ...]
    shadow: str | None = None
    entity_keys: tuple[str, ...] = ()
    entity_key_types: tuple[tuple[str, str], ...] = ()
    feature_lookup: str | None = None
    output_kind: OutputKind = "predict"
    preprocess: str | None = None
    postprocess: str | None = None
    combine: Combine | None = None
    stacker: str | None = None
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
        output_kind: str = "predict",
        preprocess: str | None = None,
        postprocess: str | None = None,
        combine: str | None = None,
        stacker: str | None = None,
    ) -> Deployment:
        """Validate the traffic split and build a deployment whose etag hashes its contents.

        ``entity_keys`` are names, or ``"name:type"`` to declare a key's type (see :func:`parse_entity_keys`).

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
        _check_serving(name, list(variants), shadow, output_kind, preprocess, postprocess, combine, stacker)
        keys, key_types = parse_entity_keys(name, entity_keys)
        serving = (output_kind, preprocess, postprocess, combine, stacker)
        body = repr((name, sorted(variants.items()), shadow, keys, key_types, feature_lookup, *serving))
        etag = hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
        return cls(
            name=name,
            variants=tuple(Variant(reference, float(share)) for reference, share in variants.items()),
            shadow=shadow,
            entity_keys=keys,
            entity_key_types=key_types,
            feature_lookup=feature_lookup,
            output_kind=cast(OutputKind, output_kind),
            preprocess=preprocess,
            postprocess=postprocess,
            combine=cast(Combine | None, combine),
            stacker=stacker,
            etag=etag,
        )

    @property
    def entity_key_specs(self) -> tuple[str, ...]:
        """The entity keys as given to :meth:`create`: ``"name:type"`` where the type is declared, else ``"name"``."""
        declared = dict(self.entity_key_types)
        return tuple(f"{key}:{declared[key]}" if key in declared else key for key in self.entity_keys)

    @property
    def references(self) -> tuple[str, ...]:
        """The variants' model references, in order."""
        return tuple(variant.reference for variant in self.variants)

    @property
    def loaded_references(self) -> tuple[str, ...]:
        """Every model reference the server loads: the variants, the stacker, then the shadow."""
        extra = tuple(reference for reference in (self.stacker, self.shadow) if reference is not None)
        return (*self.references, *extra)


def _check_serving(
    name: str,
    references: list[str],
    shadow: str | None,
    output_kind: str,
    preprocess: str | None,
    postprocess: str | None,
    combine: str | None,
    stacker: str | None,
) -> None:
    """What answers and how: output kind, hooks, ensemble (names only; the registry checks the models)."""
    if output_kind not in OUTPUT_KINDS:
        raise ValidationError(
            f"Deployment '{name}' has output_kind {output_kind!r}: use one of {', '.join(OUTPUT_KINDS)}."
        )
    for role, hook in (("preprocess", preprocess), ("postprocess", postprocess)):
        if hook is not None and not _HOOK.match(hook):
            raise ValidationError(
                f"Deployment '{name}' has {role} {hook!r}: name a function as 'package.module:function'."
            )
    if postprocess is not None and output_kind == "proba":
        raise ValidationError(
            f"Deployment '{name}' has a postprocess function but answers class scores only (output_kind='proba'); "
            "postprocessing turns predictions: use output_kind='predict' or 'both'."
        )
    if combine is None:
        if stacker is not None:
            raise ValidationError(f"Deployment '{name}' names a stacker but no ensemble: add combine='stacking'.")
        return
    if combine not in COMBINE_METHODS:
        raise ValidationError(f"Deployment '{name}' has combine {combine!r}: use one of {', '.join(COMBINE_METHODS)}.")
    if len(references) < 2:
        raise ValidationError(
            f"Deployment '{name}' combines {len(references)} model(s) by {combine}: an ensemble needs two or more."
        )
    if (combine == "stacking") != (stacker is not None):
        raise ValidationError(
            f"Deployment '{name}' combines by stacking without a stacker: pass stacker='model@alias'."
            if stacker is None
            else f"Deployment '{name}' names a stacker but combines by {combine}: use combine='stacking'."
        )
    for role, reference in (("stacker", stacker), ("shadow", shadow)):
        if reference is not None and reference in references:
            raise ValidationError(
                f"Deployment '{name}' uses '{reference}' both as an ensemble member and as its {role}: pick one role."
            )


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record: only the sha256 of the secret is kept, never the secret itself.

    ``role`` is what it may do (:mod:`fti.core.access`); ``expires_at`` when it stops working (None: never).
    """

    id: str
    name: str
    token_sha256: str
    created_at: datetime
    revoked_at: datetime | None = None
    role: Role = DEFAULT_ROLE
    expires_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        """Whether the token was revoked."""
        return self.revoked_at is not None

    def is_active(self, now: datetime) -> bool:
        """Whether the token works at ``now``: not revoked, not expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    @property
    def identity(self) -> Identity:
        """Who a request with this token acts as."""
        return Identity(self.name, self.role)
