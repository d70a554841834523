"""What the dashboard shows of deployments: variants and traffic split, traffic and latency over time from the
request log, and the A/B analysis of the variants on labelled traffic.

Every time window ends at the deployment's last logged request (not at "now"), so a deployment that has been
quiet for a while still shows its last day of traffic; the window is named on the page and in the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fti.errors import NotFoundError, ValidationError
from fti.monitoring.promotion import ab_report
from fti.registry.service import parse_model_ref

if TYPE_CHECKING:
    from fti.core.deployments import Deployment
    from fti.core.registry import RegisteredModel
    from fti.inference_log import LogSpan
    from fti.project import Project

__all__ = [
    "AB_METRICS",
    "ALL",
    "DEFAULT_WINDOW",
    "REFRESH_SECONDS",
    "WINDOWS",
    "TimeWindow",
    "ab_analysis",
    "deployment_detail",
    "deployments",
    "finite",
    "time_window",
]

#: window name -> (length, bucket width of the charts)
WINDOWS: dict[str, tuple[timedelta, timedelta]] = {
    "1h": (timedelta(hours=1), timedelta(minutes=5)),
    "6h": (timedelta(hours=6), timedelta(minutes=15)),
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
    "30d": (timedelta(days=30), timedelta(days=1)),
}
#: the window fitted to the logged traffic: from the first to the last request, whatever their span
ALL = "all"
DEFAULT_WINDOW = ALL
#: bucket widths the fitted window picks from (seconds): the first that cuts the span into at most _BUCKETS
_NICE_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
_BUCKETS = 48
#: how old the dashboard's look at the inference log's tables may be (seconds): a page reads the log as it was
#: then, so it costs no look at the tables (``refresh=true`` and "Check again" look now)
REFRESH_SECONDS = 5.0
AB_METRICS = ("accuracy", "error_rate", "squared_error", "absolute_error", "roc_auc", "average_precision")


def finite(content: dict[str, Any]) -> dict[str, Any]:
    """``content`` with every NaN or infinite float (at any depth) replaced by None, so it is valid JSON."""
    return {key: _finite(item) for key, item in content.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The window a page shows: ``[start, end)``, its name and the bucket width of its charts."""

    name: str
    start: datetime
    end: datetime
    bucket: timedelta

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "start": self.start.isoformat(timespec="seconds"),
            "end": self.end.isoformat(timespec="seconds"),
            "bucket_seconds": int(self.bucket.total_seconds()),
        }


def time_window(name: str, span: LogSpan | None) -> TimeWindow:
    """The window ``name`` that ends with the bucket holding the last logged request (whole buckets, so charts
    start and end on bucket boundaries): ``1h``, ``6h``, ``24h``, ``7d``, ``30d``, or ``all``, fitted to the
    logged requests' span with at most 48 buckets (so traffic that filled a few minutes, or a few months, has a
    shape rather than one spike at the edge of a fixed window)."""
    if name != ALL and name not in WINDOWS:
        raise ValidationError(f"Unknown window {name!r}: use one of {', '.join([ALL, *WINDOWS])}.")
    last = span.last if span is not None else datetime.now(UTC)
    if name == ALL:
        first = span.first if span is not None else last - timedelta(hours=1)
        seconds = (last - first).total_seconds()
        fitting = (nice for nice in _NICE_BUCKETS if seconds < nice * _BUCKETS)
        width = next(fitting, math.ceil(seconds / _BUCKETS / 86400) * 86400)
        start = datetime.fromtimestamp(int(first.timestamp()) // width * width, UTC)
        end = datetime.fromtimestamp((int(last.timestamp()) // width + 1) * width, UTC)
        return TimeWindow(name, start, end, timedelta(seconds=width))
    length, bucket = WINDOWS[name]
    width = int(bucket.total_seconds())
    end = datetime.fromtimestamp((int(last.timestamp()) // width + 1) * width, UTC)
    return TimeWindow(name, end - length, end, bucket)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _resolve(reference: str, models: dict[str, RegisteredModel]) -> dict[str, Any]:
    """The model version a reference serves now, from the registered models (no catalog query per variant)."""
    name, version, alias = parse_model_ref(reference)
    model = models.get(name)
    if model is None:
        return {"model": name, "version": None}
    if alias is not None:
        return {"model": name, "version": model.aliases.get(alias)}
    return {"model": name, "version": version if version is not None else model.latest_version}


def _deployment_item(
    deployment: Deployment, models: dict[str, RegisteredModel], span: LogSpan | None
) -> dict[str, Any]:
    return {
        "name": deployment.name,
        "variants": [
            {"reference": variant.reference, "share": variant.share, **_resolve(variant.reference, models)}
            for variant in deployment.variants
        ],
        "shadow": None
        if deployment.shadow is None
        else {"reference": deployment.shadow, **_resolve(deployment.shadow, models)},
        "entity_keys": list(deployment.entity_keys),
        "feature_view": deployment.feature_lookup,
        "created_at": _time(deployment.created_at),
        "updated_at": _time(deployment.updated_at),
        "logged_rows": 0 if span is None else span.rows,
        "first_request": None if span is None else _time(span.first),
        "last_request": None if span is None else _time(span.last),
    }


def deployments(project: Project) -> dict[str, Any]:
    """Every deployment with its variants (and the versions they serve now) and what it logged."""
    models = {model.name: model for model in project.models()}
    spans = project.inference_log.spans(max_age=REFRESH_SECONDS)
    items = [_deployment_item(item, models, spans.get(item.name)) for item in project.deployments()]
    return {"total": len(items), "items": items}


def deployment_detail(project: Project, name: str, window: str = DEFAULT_WINDOW) -> dict[str, Any]:
    """A deployment with its requests, rows and p50/p99 latency per time bucket and per variant."""
    deployment = project.get_deployment(name)
    models = {model.name: model for model in project.models()}
    log = project.inference_log
    span = log.spans(max_age=REFRESH_SECONDS).get(name)
    chosen = time_window(window, span)
    traffic = log.traffic(name, chosen.start, chosen.end, chosen.bucket, max_age=REFRESH_SECONDS)
    item = _deployment_item(deployment, models, span)
    return finite(
        item
        | {
            "window": chosen.to_dict(),
            "windows": [ALL, *WINDOWS],
            "buckets": traffic.buckets,
            "totals": traffic.variants,
            "former_variants": _former_variants(item, traffic.variants, models),
            "errors": traffic.errors,
        }
    )


def feedback_over_time(project: Project, name: str, window: dict[str, Any]) -> dict[str, Any]:
    """The deployment's feedback in the window's buckets, per model version (``name:version``): the rows and the
    mean rating of each bucket (None where a bucket had no rating)."""
    rows = project.feedback(name)
    start, end = (datetime.fromisoformat(window[key]) for key in ("start", "end"))
    width = timedelta(seconds=window["bucket_seconds"])
    rows = rows[(rows["timestamp"] >= start) & (rows["timestamp"] < end)]
    buckets = max(1, math.ceil((end - start) / width))
    versions: dict[str, dict[str, list[Any]]] = {}
    if not rows.empty:
        position = ((rows["timestamp"] - start) // width).astype(int).clip(0, buckets - 1)
        model = rows["model_name"].astype(str) + ":" + rows["model_version"].astype(str)
        grouped = rows.assign(bucket=position, model=model).groupby(["model", "bucket"])
        summary = grouped.agg(rows=("rating", "size"), rating=("rating", "mean")).reset_index()
        for version, bucket, count, mean in summary.itertuples(index=False):
            entry = versions.setdefault(str(version), {"rows": [0] * buckets, "rating": [None] * buckets})
            entry["rows"][int(bucket)] = int(count)
            entry["rating"][int(bucket)] = None if math.isnan(mean) else float(mean)
    return {"buckets": buckets, "total": len(rows), "versions": versions}


def _former_variants(
    item: dict[str, Any], totals: list[dict[str, Any]], models: dict[str, RegisteredModel]
) -> list[dict[str, Any]]:
    """What the window logged from variants (or a shadow) that the deployment no longer has: the split was
    changed since, and the charts and the header count their requests too."""
    current = {(variant["reference"], False) for variant in item["variants"]}
    if item["shadow"] is not None:
        current.add((item["shadow"]["reference"], True))
    return [
        total | _resolve(total["variant"], models)
        for total in totals
        if total["variant"] is not None and (total["variant"], total["is_shadow"]) not in current
    ]


def ab_analysis(
    project: Project,
    name: str,
    window: str = DEFAULT_WINDOW,
    *,
    metric: str = "accuracy",
    mde: float | None = 0.05,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The A/B analysis of the deployment's variants on labelled traffic in the window (never promotes).

    ``available`` is False with a ``message`` saying why when there is nothing to compare yet (no labels, or a
    single variant with labelled traffic).
    """
    if metric not in AB_METRICS:
        raise ValidationError(f"Unknown A/B metric {metric!r}: use one of {', '.join(AB_METRICS)}.")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must be between 0 and 1, got {alpha}.")
    if mde is not None and mde <= 0:
        raise ValidationError(f"mde (minimum detectable effect) must be positive, got {mde}.")
    project.get_deployment(name)
    log = project.inference_log
    chosen = time_window(window, log.spans(max_age=REFRESH_SECONDS).get(name))
    labelled = log.labelled_predictions(name, chosen.start, chosen.end, max_age=REFRESH_SECONDS)
    base = {"deployment": name, "metric": metric, "alpha": alpha, "mde": mde, "window": chosen.to_dict()}

    def analyse() -> dict[str, Any]:
        try:
            report = ab_report(
                labelled, project.registry, deployment=name, metric=metric, alpha=alpha, mde=mde, control="champion"
            )
        except (NotFoundError, ValidationError) as exc:
            return base | {"available": False, "message": str(exc), "labelled_rows": labelled.num_rows}
        return finite(
            base | report.to_dict() | {"available": True, "message": None, "labelled_rows": labelled.num_rows}
        )

    # the bootstrap intervals cost more than the query: keep the analysis until the log, labels or aliases change
    aliases = tuple(sorted((model.name, tuple(sorted(model.aliases.items()))) for model in project.models()))
    parts = ("ab", name, chosen.start, chosen.end, metric, mde, alpha, aliases)
    return log.remember(parts, analyse, labels=True, max_age=REFRESH_SECONDS)
