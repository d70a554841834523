"""The monitoring report: its content as one JSON-ready dict, and that content drawn as HTML by one Jinja template.

The template (``templates/drift_report.html``) draws the report's body: the verdict, each feature's drift score
against its threshold, reference vs current distributions, drift over time, data-quality findings, A/B decisions
and the alerts fired. The stored report wraps it in a self-contained page (``templates/report_page.html``: its
own style sheet inline, no scripts, nothing fetched) and the dashboard in its pages, so both draw the same charts
(:mod:`fti.charts`) from the same data. The data says what each score is (``method_kind``: a test's p-value or a
distance), so no template keeps a list of the tests.

Example:
    >>> hourly = drift_over_time(profile, log, every=timedelta(hours=1), timestamp="ts")  # doctest: +SKIP
    >>> html = render_html(report, over_time=hourly)  # doctest: +SKIP
    >>> Path("report.html").write_text(html)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from fti import charts

if TYPE_CHECKING:
    import jinja2

    from fti.monitoring.stats.ab import ABDecision
    from fti.monitoring.stats.drift import DriftReport
    from fti.monitoring.stats.quality import QualityReport

__all__ = ["TEMPLATES", "render_body", "render_html", "render_page", "report_to_dict", "restore", "when"]

#: the folder of the report's templates
TEMPLATES = Path(__file__).parent / "templates"


def report_to_dict(
    drift: DriftReport,
    *,
    over_time: Sequence[DriftReport] = (),
    quality: QualityReport | None = None,
    decisions: Sequence[ABDecision] = (),
    title: str = "Monitoring report",
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The report's content as one JSON-ready dict (what the HTML page shows)."""
    return {
        "title": title,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(),
        "drift": drift.to_dict(),
        "over_time": [report.to_dict() for report in over_time],
        "quality": None if quality is None else quality.to_dict(),
        "ab": [decision.to_dict() for decision in decisions],
    }


def restore(content: Mapping[str, Any]) -> dict[str, Any]:
    """A report's content read back from storage, its drift data written anew by today's
    :class:`~fti.monitoring.stats.drift.DriftReport` (a report stored before ``method_kind`` existed gets it)."""
    from fti.monitoring.stats.drift import DriftReport

    restored = dict(content)
    if restored.get("drift") is not None:
        restored["drift"] = DriftReport.from_dict(restored["drift"]).to_dict()
    restored["over_time"] = [DriftReport.from_dict(item).to_dict() for item in restored.get("over_time") or ()]
    return restored


def render_html(
    drift: DriftReport,
    *,
    over_time: Sequence[DriftReport] = (),
    quality: QualityReport | None = None,
    decisions: Sequence[ABDecision] = (),
    title: str = "Monitoring report",
    generated_at: datetime | None = None,
) -> str:
    """Render the self-contained HTML report.

    Args:
        drift: the drift report of the current window.
        over_time: drift reports of successive windows, for the drift-over-time charts.
        quality: a data-quality report.
        decisions: A/B decisions.
        title: the page title.
        generated_at: the time printed on the page (default: now, UTC).

    Returns:
        The page, as one string with every chart inline.
    """
    content = report_to_dict(
        drift, over_time=over_time, quality=quality, decisions=decisions, title=title, generated_at=generated_at
    )
    return render_page(content)


def render_page(content: Mapping[str, Any]) -> str:
    """The self-contained HTML page of a report's content (:func:`report_to_dict`, or a monitoring result's
    ``to_dict()``, which adds the deployment, its reference, the window and the alerts fired)."""
    return _environment().get_template("report_page.html").render(report=content, body=render_body(content))


def render_body(content: Mapping[str, Any]) -> Markup:
    """The report's body, for a page around it (the stored page, or the dashboard's)."""
    return Markup(_environment().get_template("drift_report.html").render(report=content))


def when(value: object) -> object:
    """A time as the report shows it: ``2026-03-01 10:00:00 UTC``; ``—`` for none."""
    if isinstance(value, str):
        return value.replace("T", " ").replace("+00:00", " UTC")
    return "—" if value is None else value


def _number(value: object, spec: str = ".4g") -> str:
    """A number as ``format(value, spec)``; ``—`` for none, and text (a non-finite score stored as ``"nan"``) as is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return format(value, spec) if math.isfinite(value) else str(value)


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2  # the templates are read when a page is rendered, not when a check runs

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["charts"] = charts
    environment.filters["when"] = when
    environment.filters["number"] = _number
    return environment
