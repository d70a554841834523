"""Triggers: the catalog events that start a pipeline, built by ``fti.on_*`` or parsed from ``kind:subject/detail``.

Example:
    >>> @fti.pipeline(triggers=[fti.on_commit("transactions"), "alert:fraud/drift"])  # doctest: +SKIP
    ... def features(ctx): ...
"""

from __future__ import annotations

from typing import get_args

from fti.core.pipelines import Trigger, TriggerSource
from fti.errors import ValidationError

__all__ = [
    "ALERT_KINDS",
    "on_alert",
    "on_alias",
    "on_commit",
    "on_model_version",
    "on_pipeline_run",
    "parse_trigger",
]

#: what an alert is about, from its rule's type
ALERT_KINDS = ("drift", "quality", "performance")
_RUN_STATES = ("succeeded", "failed", "finished")
_SOURCES: tuple[str, ...] = get_args(TriggerSource)


def on_commit(feature_group: str) -> Trigger:
    """A new commit (insert) of the feature group ``feature_group`` (``*``: any)."""
    return _checked(Trigger("commit", feature_group))


def on_model_version(model: str) -> Trigger:
    """A new version of the registered model ``model`` (``*``: any)."""
    return _checked(Trigger("model_version", model))


def on_alias(model: str, alias: str) -> Trigger:
    """The alias ``alias`` of ``model`` moved to a version (``on_alias("fraud", "champion")``)."""
    return _checked(Trigger("alias", model, alias))


def on_alert(deployment: str, kind: str | None = None) -> Trigger:
    """A monitoring alert fired on ``deployment``: any, or of one ``kind`` (drift, quality, performance)."""
    return _checked(Trigger("alert", deployment, kind))


def on_pipeline_run(pipeline: str, state: str = "succeeded") -> Trigger:
    """A run of ``pipeline`` ended: ``succeeded`` (default), ``failed`` (after its last retry) or ``finished``."""
    return _checked(Trigger("pipeline_run", pipeline, state))


def parse_trigger(text: str) -> Trigger:
    """``kind:subject[/detail]``: ``commit:transactions``, ``model_version:fraud``, ``alias:fraud/champion``,
    ``alert:fraud``, ``alert:fraud/drift``, ``pipeline_run:features/failed``.

    Raises:
        ValidationError: the text does not parse or names an unknown kind or detail.
    """
    kind, colon, rest = text.partition(":")
    subject, _, detail = rest.partition("/")
    if not colon or not subject or kind not in _SOURCES:
        raise ValidationError(
            f"Trigger '{text}' does not parse: expected KIND:SUBJECT[/DETAIL] with KIND one of "
            f"{', '.join(_SOURCES)} (e.g. 'commit:transactions', 'alias:fraud/champion', 'alert:fraud/drift')."
        )
    return _checked(Trigger(kind, subject, detail or None))  # type: ignore[arg-type]


def _checked(trigger: Trigger) -> Trigger:
    subject, detail = trigger.subject, trigger.detail
    if not subject or any(character in subject for character in " /:"):
        raise ValidationError(f"Trigger '{trigger}': '{subject}' is not a name (no spaces, '/' or ':'; '*' for any).")
    if trigger.kind == "alias" and not detail:
        raise ValidationError(f"Trigger '{trigger}' needs the alias: 'alias:{subject}/champion'.")
    if trigger.kind == "alert" and detail is not None and detail not in ALERT_KINDS:
        raise ValidationError(f"Trigger '{trigger}': alert kind '{detail}' is not one of {', '.join(ALERT_KINDS)}.")
    if trigger.kind == "pipeline_run" and detail not in _RUN_STATES:
        raise ValidationError(
            f"Trigger '{trigger}': pipeline run state '{detail}' is not one of {', '.join(_RUN_STATES)}."
        )
    if trigger.kind in ("commit", "model_version") and detail is not None:
        raise ValidationError(f"Trigger '{trigger}': a {trigger.kind} trigger takes no '/{detail}'.")
    return trigger
