"""The outcome of one monitoring check: drift, data quality and drift over time, savable as artifacts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fti.monitoring.report import render_page, report_to_dict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fti.artifacts import ArtifactService
    from fti.monitoring.alerts import Alert
    from fti.monitoring.stats.drift import DriftReport
    from fti.monitoring.stats.quality import QualityReport

__all__ = ["MonitorResult"]


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """Drift (features and prediction), data quality and drift over time of a deployment's logged traffic.

    Attributes:
        deployment: the deployment checked.
        model: the model version the reference belongs to (``name:version``), or None for a given reference.
        reference: where the reference came from (``training dataset of fraud:1``).
        reference_key: the artifact holding the cached reference profile, if any.
        window: the window checked: start, end and rows.
        drift: drift of every feature and of the prediction.
        quality: data-quality findings against the reference.
        over_time: drift of successive slices of the window.
        checked_at: when the check ran.
    """

    deployment: str
    model: str | None
    reference: str
    reference_key: str | None
    window: dict[str, Any]
    drift: DriftReport
    quality: QualityReport
    over_time: Sequence[DriftReport]
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    alerts: Sequence[Alert] = ()
    _artifacts: ArtifactService | None = field(default=None, repr=False, compare=False)

    @property
    def drifted_features(self) -> list[str]:
        """The features that drifted."""
        return self.drift.drifted_features

    @property
    def is_prediction_drifted(self) -> bool:
        """Whether the prediction drifted (False when it was not checked)."""
        return self.drift.prediction is not None and self.drift.prediction.drifted

    @property
    def title(self) -> str:
        """The report's title."""
        return f"Monitoring report: deployment '{self.deployment}'"

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-ready dict."""
        content = report_to_dict(
            self.drift, over_time=self.over_time, quality=self.quality, title=self.title, generated_at=self.checked_at
        )
        content.update(
            deployment=self.deployment,
            model=self.model,
            reference=self.reference,
            reference_key=self.reference_key,
            window=dict(self.window),
            alerts=[alert.to_dict() for alert in self.alerts],
        )
        return content

    def to_html(self) -> str:
        """The self-contained HTML report (inline charts, nothing fetched)."""
        return render_page(self.to_dict())

    def save(self, prefix: str | None = None) -> dict[str, str]:
        """Store the JSON and HTML reports as artifacts.

        Args:
            prefix: the artifact folder (default ``monitoring/reports/<deployment>/<timestamp>``).

        Returns:
            ``{"json": key, "html": key}``.
        """
        if self._artifacts is None:
            from fti.errors import ValidationError

            raise ValidationError(
                "This monitoring result is not attached to a project: save it with project.monitor(...).save()."
            )
        stamp = self.checked_at.strftime("%Y%m%dT%H%M%S%fZ")
        folder = prefix or f"monitoring/reports/{_safe(self.deployment)}/{stamp}"
        json_key = f"{folder}/report.json"
        html_key = f"{folder}/report.html"
        self._artifacts.put_json(json_key, self.to_dict())
        self._artifacts.put_bytes(html_key, self.to_html().encode())
        return {"json": json_key, "html": html_key}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@=+-]", "_", name) or "_"
