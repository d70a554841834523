"""Alert rules and actions read from YAML (or plain data), for ``fti monitor check --rules``.

Example ``rules.yaml``::

    rules:
      - {type: drift_share, threshold: 0.5}
      - {type: feature_drift, feature: amount, threshold: 0.2}
      - {type: metric_below, metric: accuracy, bound: 0.8}
      - {type: quality, min_count: 1, kind: out_of_range}
    actions:
      - {type: log}
      - {type: webhook, url: "http://alerts.internal:9000/fti"}
      - {type: shell, command: ["sh", "-c", "cat >> alerts.jsonl"]}
      - {type: retrain, pipeline: "pipelines.fraud:train", share: 0.2}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fti.errors import NotFoundError, ValidationError
from fti.monitoring.actions import AlertAction, RetrainFactory, action_from_dict
from fti.monitoring.alerts import AlertRule, rule_from_dict

__all__ = ["AlertConfig", "load_alerts", "parse_alerts", "read_alerts_file"]


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Rules and the actions to run when any fires."""

    rules: tuple[AlertRule, ...]
    actions: tuple[AlertAction, ...]


def load_alerts(path: str | Path, *, retrain: RetrainFactory | None = None) -> AlertConfig:
    """Read rules and actions from a YAML file (see the module docstring)."""
    return parse_alerts(read_alerts_file(path), source=str(path), retrain=retrain)


def read_alerts_file(path: str | Path, *, hint: str = "Check the path.") -> Any:
    """The parsed YAML of an alert rules file; NotFoundError (with ``hint``) or ValidationError if unreadable."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"Alert rules file '{file}' does not exist. {hint}")
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(f"Alert rules file '{file}' is not valid YAML: {exc}") from exc


def parse_alerts(data: Any, *, source: str = "alert rules", retrain: RetrainFactory | None = None) -> AlertConfig:
    """Rules and actions from plain data: ``{"rules": [...], "actions": [...]}``."""
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), Sequence):
        raise ValidationError(f"{source} must be a mapping with a 'rules' list (and an optional 'actions' list).")
    unknown = sorted(set(data) - {"rules", "actions"})
    if unknown:
        raise ValidationError(f"{source} has unknown key(s) {', '.join(unknown)}: only 'rules' and 'actions' are read.")
    rules = []
    for index, item in enumerate(data["rules"]):
        if not isinstance(item, Mapping):
            raise ValidationError(f"{source}: rules[{index}] must be a mapping with a 'type', got {item!r}.")
        rules.append(rule_from_dict(item))
    actions = [
        action_from_dict(item, f"{source}: actions[{index}]", retrain)
        for index, item in enumerate(data.get("actions") or [])
    ]
    return AlertConfig(tuple(rules), tuple(actions))
