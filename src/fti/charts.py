"""Charts drawn on the server as inline SVG: histograms, metric curves, drift charts and the lineage graph.

One module draws every chart, for the dashboard's pages and for the self-contained monitoring report
(:mod:`fti.monitoring.report`) alike. SVG keeps the pages free of chart libraries (nothing is fetched from
elsewhere) and readable without JavaScript; the charts are styled by class (the dashboard's style sheet, or the
report's own). Every text placed in the markup is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

__all__ = [
    "PALETTE",
    "distribution_chart",
    "drift_over_time_chart",
    "drift_strength",
    "duration",
    "histogram",
    "line_chart",
    "lineage_graph",
    "score_bar",
]

PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
    "#7c2d12",
    "#1e3a8a",
)
#: past the palette, lines repeat its colours with these dashes, so no two series look alike
_DASHES = ("", "6 3", "2 2", "8 3 2 3")


def _format(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else "–"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def duration(seconds: float) -> str:
    """``seconds`` as the largest whole unit that fits: ``30 s``, ``5 min``, ``6 h``, ``2 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def histogram(statistics: dict[str, Any], *, width: int = 260, height: int = 90) -> Markup:
    """Bars of a numeric column's histogram (``{"edges": [...], "counts": [...]}``); empty if none."""
    data = statistics.get("histogram")
    if not data or not data.get("counts"):
        return Markup("")
    counts: list[int] = data["counts"]
    edges: list[float] = data["edges"]
    top = max(counts) or 1
    plot_height = height - 18
    bar = width / len(counts)
    bars = []
    for index, count in enumerate(counts):
        bar_height = plot_height * count / top
        low, high = edges[index], edges[index + 1] if index + 1 < len(edges) else edges[-1]
        bars.append(
            f'<rect x="{index * bar + 1:.1f}" y="{plot_height - bar_height:.1f}" width="{max(bar - 2, 1):.1f}" '
            f'height="{bar_height:.1f}" class="bar"><title>{escape(_format(low))} – {escape(_format(high))}: '
            f"{count}</title></rect>"
        )
    labels = (
        f'<text x="0" y="{height - 4}" class="axis">{escape(_format(edges[0]))}</text>'
        f'<text x="{width}" y="{height - 4}" class="axis" text-anchor="end">{escape(_format(edges[-1]))}</text>'
    )
    return Markup(
        f'<svg class="chart histogram" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="histogram">{"".join(bars)}{labels}</svg>'
    )


def line_chart(
    series: Sequence[tuple[str, Sequence[int], Sequence[float | None]]],
    *,
    title: str = "",
    width: int = 520,
    height: int = 220,
    x_labels: tuple[str, str] | None = None,
) -> Markup:
    """Lines of ``(label, steps, values)`` overlaid on shared axes, with a legend below the plot; single points
    as dots. A None value is a gap: the line stops there and starts again at the next value.

    ``x_labels`` names the two ends of the x axis (times, say) instead of the first and last step.
    """
    points = [
        (step, value)
        for _, steps, values in series
        for step, value in zip(steps, values, strict=True)
        if value is not None
    ]
    if not points:
        return Markup('<p class="muted">No values logged.</p>')
    left, right, top, bottom = 56, 12, 22, 28
    legend_columns = max(1, (width - left - right) // _LEGEND_WIDTH)
    legend_rows = math.ceil(len(series) / legend_columns) if len(series) > 1 else 0
    chart_height = height
    height += legend_rows * 16
    low_x, high_x = min(p[0] for p in points), max(p[0] for p in points)
    first_step, last_step = low_x, high_x
    low_y, high_y = min(p[1] for p in points), max(p[1] for p in points)
    if high_x == low_x:
        low_x, high_x = low_x - 1, high_x + 1
    if high_y == low_y:
        pad = abs(high_y) * 0.1 or 1.0
        low_y, high_y = low_y - pad, high_y + pad
    plot_w, plot_h = width - left - right, chart_height - top - bottom

    def x_of(step: float) -> float:
        return left + plot_w * (step - low_x) / (high_x - low_x)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - low_y) / (high_y - low_y))

    parts = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="plot"/>']
    for fraction in (0.0, 0.5, 1.0):
        value = low_y + (high_y - low_y) * fraction
        y = y_of(value)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_format(value)}</text>')
    axis_y = chart_height - 8
    if x_labels is not None:
        parts.append(f'<text x="{left}" y="{axis_y}" class="axis">{escape(x_labels[0])}</text>')
        parts.append(
            f'<text x="{left + plot_w}" y="{axis_y}" class="axis" text-anchor="end">{escape(x_labels[1])}</text>'
        )
    elif first_step == last_step:
        parts.append(
            f'<text x="{x_of(first_step):.1f}" y="{axis_y}" class="axis" text-anchor="middle">step '
            f"{_format(first_step)}</text>"
        )
    else:
        parts.append(f'<text x="{left}" y="{axis_y}" class="axis">step {_format(first_step)}</text>')
        parts.append(
            f'<text x="{left + plot_w}" y="{axis_y}" class="axis" text-anchor="end">{_format(last_step)}</text>'
        )
    if title:
        parts.append(f'<text x="{left}" y="14" class="title">{escape(title)}</text>')
    for index, (label, steps, values) in enumerate(series):
        color, dash = _style(index)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        runs = _runs([(x_of(s), y_of(v)) if v is not None else None for s, v in zip(steps, values, strict=True)])
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dashed} class="series">'
                    f"<title>{escape(label)}</title></polyline>"
                )
        xy = [point for run in runs for point in run]
        if len(xy) <= 60:
            # a lone value between gaps has no line: its dot is what shows it
            parts += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{4 if len(run) == 1 else 2.5}" fill="{color}"/>'
                for run in runs
                for x, y in run
            ]
        else:
            parts += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>'
                for run in runs
                if len(run) == 1
                for x, y in run
            ]
        if legend_rows:
            legend_x = left + (index % legend_columns) * _LEGEND_WIDTH
            legend_y = chart_height + 6 + 16 * (index // legend_columns)
            parts.append(
                f'<line x1="{legend_x}" x2="{legend_x + 16}" y1="{legend_y}" y2="{legend_y}" stroke="{color}" '
                f'stroke-width="3"{dashed} class="legend-swatch"/>'
            )
            parts.append(
                f'<text x="{legend_x + 20}" y="{legend_y + 4}" class="legend">{escape(_elide(label, 24))}'
                f"<title>{escape(label)}</title></text>"
            )
    return Markup(
        f'<svg class="chart line" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title or "metric chart")}">{"".join(parts)}</svg>'
    )


_LEGEND_WIDTH = 170


def _style(index: int) -> tuple[str, str]:
    """The colour and dash pattern of the ``index``-th series: distinct for ``len(PALETTE) * 4`` series."""
    return PALETTE[index % len(PALETTE)], _DASHES[(index // len(PALETTE)) % len(_DASHES)]


def _runs(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """The stretches of consecutive points between gaps (None)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _elide(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def distribution_chart(
    bins: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    width: int = 320,
    height: int = 130,
) -> Markup:
    """Paired bars of the reference and current share of each bin (a drift report's distributions)."""
    if not bins:
        return Markup('<p class="muted">No values.</p>')
    top = max([*reference, *current, 1e-12])
    plot_height = height - 20
    slot = width / len(bins)
    bar = max(slot / 2 - 1, 0.5)
    parts = []
    for index, (label, before, now) in enumerate(zip(bins, reference, current, strict=True)):
        x = index * slot
        for offset, value, kind in ((0.0, before, "reference"), (bar, now, "current")):
            size = plot_height * value / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{plot_height - size:.1f}" width="{bar:.1f}" height="{size:.1f}" '
                f'class="{kind}"><title>{escape(label)} ({kind}): {value:.1%}</title></rect>'
            )
    parts.append(f'<text x="0" y="{height - 4}" class="axis">{escape(bins[0][:18])}</text>')
    parts.append(f'<text x="{width}" y="{height - 4}" class="axis" text-anchor="end">{escape(bins[-1][:18])}</text>')
    return Markup(
        f'<svg class="chart distribution" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="reference vs current distribution">{"".join(parts)}</svg>'
    )


def drift_strength(feature: Mapping[str, Any]) -> float:
    """A feature's drift score (one feature of a drift report's data) relative to its threshold: 1 at the
    threshold, above 1 when drifted.

    A test's p-value (``method_kind`` ``"test"``) compares on a log scale, a distance linearly; a missing score
    counts as 2.
    """
    score, threshold = feature.get("score"), float(feature["threshold"])
    if not isinstance(score, int | float):  # None, or a non-finite score written as text
        return 2.0
    if feature["method_kind"] == "test":
        return math.log(max(float(score), 1e-300)) / math.log(threshold) if 0 < threshold < 1 else 0.0
    return float(score) / threshold if threshold > 0 else 2.0


def score_bar(feature: Mapping[str, Any], *, width: int = 160, height: int = 12) -> Markup:
    """How far a feature's drift score is toward its threshold (the dashed middle line); past it, drifted.

    Test p-values are compared on a log scale, distances linearly.
    """
    strength = drift_strength(feature)
    half = width / 2
    length = min(max(strength, 0.0), 2.0) * half
    kind = "drifted" if feature["drifted"] else "ok"
    return Markup(
        f'<svg class="score-bar" width="{width}" height="{height}" role="img" aria-label="drift score">'
        f'<rect x="0" y="1" width="{length:.1f}" height="{height - 2}" class="{kind}"/>'
        f'<line x1="{half}" x2="{half}" y1="0" y2="{height}" class="threshold"/></svg>'
    )


def drift_over_time_chart(reports: Sequence[Mapping[str, Any]], *, width: int = 620) -> Markup:
    """Each feature's drift strength per slice of a window (its score relative to its threshold, 1) from the data
    of drift reports over time, with the threshold as a line; capped at 10, so that one huge drift does not
    flatten every other line."""
    if not reports:
        return Markup('<p class="muted">Too few rows to slice the window.</p>')
    names = list(reports[0]["features"])
    steps = list(range(len(reports)))
    series: list[tuple[str, Sequence[int], Sequence[float | None]]] = [
        (name, steps, [_capped(report["features"].get(name)) for report in reports]) for name in names
    ]
    series.append(("threshold", steps, [1.0] * len(steps)))
    ends = [str((report.get("window") or {}).get("start", "")).replace("T", " ")[:16] for report in reports]
    title = "drift score / threshold per slice (above 1: drifted)"
    return line_chart(series, title=title, x_labels=(ends[0], ends[-1]), width=width)


def _capped(feature: Mapping[str, Any] | None) -> float | None:
    return None if feature is None else min(drift_strength(feature), 10.0)


_COLUMNS = ("feature group commit", "feature view", "training dataset", "run", "model version")


def lineage_graph(graph: dict[str, Any]) -> Markup:
    """The lineage graph of :func:`fti.ui.summaries.model_lineage`: one column per kind, left to right."""
    node_w, node_h, gap_x, gap_y, margin = 190.0, 52.0, 60.0, 18.0, 16.0
    columns: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _COLUMNS}
    for node in graph["nodes"]:
        columns.setdefault(node["kind"], []).append(node)
    used = [kind for kind in columns if columns[kind]]
    tallest = max(len(columns[kind]) for kind in used)
    height = margin * 2 + 20 + tallest * node_h + (tallest - 1) * gap_y
    width = margin * 2 + len(used) * node_w + (len(used) - 1) * gap_x
    places: dict[str, tuple[float, float]] = {}
    parts = []
    for column, kind in enumerate(used):
        x = margin + column * (node_w + gap_x)
        parts.append(f'<text x="{x}" y="{margin + 4}" class="kind">{escape(kind)}</text>')
        nodes = columns[kind]
        offset = (tallest - len(nodes)) * (node_h + gap_y) / 2
        for row, node in enumerate(nodes):
            y = margin + 20 + offset + row * (node_h + gap_y)
            places[node["id"]] = (x, y)
    for edge in graph["edges"]:
        (sx, sy), (tx, ty) = places[edge["source"]], places[edge["target"]]
        x1, y1, x2, y2 = sx + node_w, sy + node_h / 2, tx, ty + node_h / 2
        middle = (x1 + x2) / 2
        parts.append(
            f'<path d="M{x1:.1f},{y1:.1f} C{middle:.1f},{y1:.1f} {middle:.1f},{y2:.1f} {x2 - 6:.1f},{y2:.1f}" '
            'class="edge" marker-end="url(#arrow)"/>'
        )
    for node in graph["nodes"]:
        x, y = places[node["id"]]
        kind_class = node["kind"].replace(" ", "-")
        parts.append(
            f'<a href="{escape(node["href"])}" class="node {kind_class}" data-node="{escape(node["id"])}">'
            f'<rect x="{x}" y="{y}" width="{node_w}" height="{node_h}" rx="8"/>'
            f'<text x="{x + 10}" y="{y + 21}" class="label">{escape(node["label"][:26])}</text>'
            f'<text x="{x + 10}" y="{y + 39}" class="detail">{escape(node["detail"][:30])}</text></a>'
        )
    marker = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>'
    )
    return Markup(
        f'<svg class="lineage" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="lineage graph">{marker}{"".join(parts)}</svg>'
    )
