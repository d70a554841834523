"""The monitoring report: one self-contained HTML page (inline SVG charts, no scripts, nothing fetched) and JSON.

The page shows the drift score of every feature against its threshold, reference vs current distributions
per feature, drift over time (share of drifted features per window and which features drifted), and the
data-quality findings and A/B decisions when given.

Example:
    >>> hourly = drift_over_time(profile, log, every=timedelta(hours=1), timestamp="ts")  # doctest: +SKIP
    >>> html = render_html(report, over_time=hourly)  # doctest: +SKIP
    >>> Path("report.html").write_text(html)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fti.monitoring.stats.ab import ABDecision
    from fti.monitoring.stats.drift import DriftReport, FeatureDrift
    from fti.monitoring.stats.quality import QualityReport

__all__ = ["render_html", "report_to_dict"]

_REFERENCE_COLOR = "#7f8c9a"
_CURRENT_COLOR = "#e67e22"
_DRIFT_COLOR = "#c0392b"
_OK_COLOR = "#27ae60"

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}
.drift{color:#c0392b;font-weight:600}.ok{color:#27ae60}.muted{color:#777}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:1rem}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:.6rem}.legend span{margin-right:1rem}
svg text{font-size:10px;fill:#444}
"""


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
    moment = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    verdict = (
        f'<span class="drift">Dataset drift</span>: {drift.share_drifted:.0%} of features drifted'
        if drift.dataset_drift
        else f'<span class="ok">No dataset drift</span>: {drift.share_drifted:.0%} of features drifted'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{verdict} (alert at {drift.drift_share:.0%}); {drift.rows:,} current rows. "
        f'<span class="muted">Generated {escape(moment)}.</span></p>',
        _score_section(drift),
        _distribution_section(drift),
    ]
    if over_time:
        parts.append(_over_time_section(over_time))
    if quality is not None:
        parts.append(_quality_section(quality))
    if decisions:
        parts.append(_ab_section(decisions))
    parts.append("</body></html>")
    return "\n".join(parts)


def _strength(result: FeatureDrift) -> float:
    """How far the score is toward its threshold: 1 at the threshold, above 1 when drifted."""
    if result.is_test:
        p_value = max(result.score, 1e-300)
        return math.log(p_value) / math.log(result.threshold) if 0 < result.threshold < 1 else 0.0
    return result.score / result.threshold if result.threshold > 0 else (math.inf if result.score > 0 else 0.0)


def _score_bar(result: FeatureDrift, width: int = 220, height: int = 14) -> str:
    scale = width / 2  # the threshold sits at the middle; twice the threshold fills the bar
    length = min(_strength(result), 2.0) * scale
    color = _DRIFT_COLOR if result.drifted else _OK_COLOR
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="drift score">'
        f'<rect x="0" y="2" width="{length:.1f}" height="{height - 4}" fill="{color}"/>'
        f'<line x1="{scale}" x2="{scale}" y1="0" y2="{height}" stroke="#333" stroke-dasharray="2,2"/></svg>'
    )


def _score_section(drift: DriftReport) -> str:
    rows = []
    results = list(drift.features.values()) + ([drift.prediction] if drift.prediction else [])
    for result in results:
        name = escape(result.column) + (" (prediction)" if result is drift.prediction else "")
        status = '<span class="drift">drift</span>' if result.drifted else '<span class="ok">ok</span>'
        measure = "p-value" if result.is_test else "score"
        rows.append(
            f"<tr><td>{name}</td><td>{result.kind}</td><td>{result.method}</td>"
            f"<td>{measure} {result.score:.4g}</td><td>{result.threshold:.4g}</td>"
            f"<td>{_score_bar(result)}</td><td>{status}</td></tr>"
        )
    return (
        "<h2>Drift score per feature</h2><p class=muted>The dashed line is the threshold: a bar past it drifted "
        "(tests compare the p-value on a log scale).</p><table><tr><th>feature</th><th>kind</th><th>method</th>"
        "<th>score</th><th>threshold</th><th></th><th></th></tr>" + "".join(rows) + "</table>"
    )


def _histogram(result: FeatureDrift, width: int = 340, height: int = 150) -> str:
    count = len(result.bins)
    if not count:
        return '<p class="muted">No values.</p>'
    top = max([*result.reference, *result.current, 1e-12])
    plot_height = height - 30
    slot = width / count
    bar = max(slot / 2 - 1, 0.5)
    shapes = []
    for index, (label, reference, current) in enumerate(
        zip(result.bins, result.reference, result.current, strict=True)
    ):
        x = index * slot
        for offset, value, color in ((0.0, reference, _REFERENCE_COLOR), (bar, current, _CURRENT_COLOR)):
            size = value / top * plot_height
            shapes.append(
                f'<rect x="{x + offset:.1f}" y="{plot_height - size:.1f}" width="{bar:.1f}" height="{size:.1f}" '
                f'fill="{color}"><title>{escape(label)}: {value:.1%}</title></rect>'
            )
    first, last = escape(result.bins[0]), escape(result.bins[-1])
    shapes.append(f'<text x="0" y="{height - 14}">{first}</text>')
    shapes.append(f'<text x="{width}" y="{height - 2}" text-anchor="end">{last}</text>')
    return f'<svg width="{width}" height="{height}" role="img" aria-label="distribution">{"".join(shapes)}</svg>'


def _distribution_section(drift: DriftReport) -> str:
    cards = []
    results = list(drift.features.values()) + ([drift.prediction] if drift.prediction else [])
    for result in results:
        status = '<span class="drift">drift</span>' if result.drifted else '<span class="ok">ok</span>'
        cards.append(
            f'<div class="card"><b>{escape(result.column)}</b> {status} '
            f'<span class="muted">{result.method} {result.score:.4g}</span>{_histogram(result)}</div>'
        )
    legend = (
        f'<p class="legend"><span style="color:{_REFERENCE_COLOR}">&#9632; reference</span>'
        f'<span style="color:{_CURRENT_COLOR}">&#9632; current</span></p>'
    )
    return "<h2>Distributions: reference vs current</h2>" + legend + '<div class="grid">' + "".join(cards) + "</div>"


def _window_label(report: DriftReport, index: int) -> str:
    if report.window is None:
        return str(index)
    return str(report.window.get("start", index))


def _over_time_section(reports: Sequence[DriftReport], width: int = 640, height: int = 180) -> str:
    count = len(reports)
    plot_height = height - 30
    step = width / max(count - 1, 1)
    points = [(index * step, plot_height - report.share_drifted * plot_height) for index, report in enumerate(reports)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    alert_y = plot_height - reports[-1].drift_share * plot_height
    shapes = [
        f'<line x1="0" x2="{width}" y1="{alert_y:.1f}" y2="{alert_y:.1f}" stroke="{_DRIFT_COLOR}" '
        'stroke-dasharray="4,3"/>',
        f'<polyline points="{line}" fill="none" stroke="{_CURRENT_COLOR}" stroke-width="2"/>',
    ]
    for index, ((x, y), report) in enumerate(zip(points, reports, strict=True)):
        color = _DRIFT_COLOR if report.dataset_drift else _OK_COLOR
        label = escape(_window_label(report, index))
        shapes.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{label}: '
            f"{report.share_drifted:.0%} drifted</title></circle>"
        )
    shapes.append(f'<text x="{width + 4}" y="10">100%</text>')
    shapes.append(f'<text x="{width + 4}" y="{plot_height:.0f}">0%</text>')
    shapes.append(f'<text x="0" y="{height - 4}">{escape(_window_label(reports[0], 0))}</text>')
    shapes.append(
        f'<text x="{width}" y="{height - 4}" text-anchor="end">{escape(_window_label(reports[-1], count - 1))}</text>'
    )
    chart = (
        f'<svg width="{width + 10}" height="{height}" role="img" aria-label="drift over time">{"".join(shapes)}</svg>'
    )
    features = list(reports[0].features)
    header = "".join(f"<th>{escape(name)}</th>" for name in features)
    rows = []
    for index, report in enumerate(reports):
        cells = "".join(
            f'<td class="{"drift" if report.features[name].drifted else "ok"}">{report.features[name].score:.3g}</td>'
            if name in report.features
            else "<td></td>"
            for name in features
        )
        rows.append(
            f"<tr><td>{escape(_window_label(report, index))}</td><td>{report.share_drifted:.0%}</td>{cells}</tr>"
        )
    return (
        "<h2>Drift over time</h2><p class=muted>Share of drifted features per window; the dashed line is the "
        "dataset drift share.</p>"
        + chart
        + f"<table><tr><th>window</th><th>drifted</th>{header}</tr>"
        + "".join(rows)
        + "</table>"
    )


def _quality_section(quality: QualityReport) -> str:
    if not quality.findings:
        return f'<h2>Data quality</h2><p class="ok">No findings over {quality.rows:,} rows.</p>'
    rows = "".join(
        f"<tr><td>{escape(f.column)}</td><td>{f.kind}</td><td>{f.count:,}</td><td>{f.rate:.1%}</td>"
        f"<td>{escape(f.message)}</td></tr>"
        for f in quality.findings
    )
    return (
        f"<h2>Data quality</h2><p>{len(quality.findings)} findings over {quality.rows:,} rows.</p>"
        "<table><tr><th>column</th><th>kind</th><th>rows</th><th>rate</th><th>message</th></tr>" + rows + "</table>"
    )


def _ab_section(decisions: Sequence[ABDecision]) -> str:
    rows = "".join(
        f"<tr><td>{escape(d.metric)}</td><td>{escape(d.control)} vs {escape(d.treatment)}</td><td>{d.test}</td>"
        f"<td>{d.effect:+.4g} [{d.interval[0]:+.4g}, {d.interval[1]:+.4g}]</td><td>{d.p_value:.4g}</td>"
        f"<td>{min(d.samples):,} / {d.samples_needed if d.samples_needed is not None else '-'}</td>"
        f"<td>{escape(d.winner) if d.winner else 'none yet'}</td></tr>"
        for d in decisions
    )
    return (
        "<h2>A/B analysis</h2><table><tr><th>metric</th><th>variants</th><th>test</th><th>effect [CI]</th>"
        "<th>p-value</th><th>samples / needed</th><th>winner</th></tr>" + rows + "</table>"
    )
