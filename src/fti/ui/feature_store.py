"""What the dashboard shows of the feature store: feature groups (schema, commits, statistics, a preview of
rows), feature views (their join keys) and training datasets, as JSON-ready data for the API and the pages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fti.errors import ValidationError
from fti.ui.summaries import check_page, page, records, time_text

if TYPE_CHECKING:
    from fti.core.features import CommitRecord
    from fti.features import FeatureGroup, FeatureView
    from fti.features.training import TrainingDataset
    from fti.project import Project

__all__ = [
    "feature_group_detail",
    "feature_group_preview",
    "feature_group_statistics",
    "feature_groups",
    "feature_view_detail",
    "feature_views",
]


def _group_item(group: FeatureGroup) -> dict[str, Any]:
    record = group.record
    return {
        "name": group.name,
        "version": group.version,
        "description": group.description,
        "primary_key": list(record.primary_key),
        "event_time": record.event_time,
        "online": record.is_online,
        "features": group.features if record.schema is not None else [],
        "tags": dict(record.tags),
        "created_at": time_text(record.created_at),
    }


def feature_groups(project: Project, search: str | None, limit: int, offset: int) -> dict[str, Any]:
    """Feature group versions whose name, description, features or tags contain ``search``."""
    check_page(limit, offset)
    groups = project.feature_groups(search or None)
    return page([_group_item(group) for group in groups[offset : offset + limit]], limit, 0) | {
        "total": len(groups),
        "offset": offset,
    }


def _commit_item(commit: CommitRecord) -> dict[str, Any]:
    lineage = commit.lineage
    return {
        "commit": commit.commit,
        "committed_at": time_text(commit.committed_at),
        "rows_inserted": commit.rows_inserted,
        "rows_replaced": commit.rows_replaced,
        "lineage": None if lineage is None else lineage.to_json() | {"read": lineage.describe_span()},
    }


def feature_group_detail(project: Project, name: str, version: int) -> dict[str, Any]:
    """A feature group version: schema, expectations and commits (newest first)."""
    group = project.get_feature_group(name, version)
    primary_key, event_time = set(group.primary_key), group.event_time
    schema = [
        {"name": column, "type": kind, "role": _role(column, primary_key, event_time)}
        for column, kind in (group.schema or [])
    ]
    return _group_item(group) | {
        "schema": schema,
        "ttl_seconds": group.record.ttl_seconds,
        "expectations": [dict(item) for item in group.record.expectations],
        "commits": [_commit_item(commit) for commit in reversed(group.commits())],
    }


def _role(column: str, primary_key: set[str], event_time: str) -> str:
    if column in primary_key:
        return "primary key"
    return "event time" if column == event_time else "feature"


def feature_group_statistics(
    project: Project, name: str, version: int, commit: int | None, scope: str
) -> dict[str, Any]:
    """Per-feature statistics (with histograms for numbers) of one commit or of the group as of it."""
    if scope not in ("commit", "feature_group"):
        raise ValidationError(f"scope must be 'commit' or 'feature_group', got {scope!r}.")
    group = project.get_feature_group(name, version)
    statistics = group.statistics(commit, scope="commit" if scope == "commit" else "feature_group")
    chosen = commit if commit is not None else group.commits()[-1].commit
    keys = set(group.primary_key)
    columns = {
        column: _as_key(stats, "primary key" if column in keys else "id")
        if column in keys or _ID_NAME.search(column)
        else stats
        for column, stats in statistics.get("columns", {}).items()
    }
    return {"name": name, "version": version, "commit": chosen, "scope": scope, **statistics, "columns": columns}


#: columns named like identifiers (``tx_id``, ``cc_num``, ``merchant_key``): their min, mean and histogram say
#: nothing, so they are shown as keys
_ID_NAME = re.compile(r"(^|_)(id|ids|num|key|uuid)$", re.IGNORECASE)


def _as_key(stats: dict[str, Any], role: str) -> dict[str, Any]:
    """A key column's statistics: how many values, nulls and (for strings) distinct values; no number profile."""
    kept = {key: stats[key] for key in ("count", "nulls", "distinct") if key in stats}
    return kept | {"type": "key", "role": role, "profiled_as": stats.get("type")}


def feature_group_preview(project: Project, name: str, version: int, rows: int = 10) -> dict[str, Any]:
    """The first ``rows`` rows of a feature group version (by event time), as column names and JSON rows."""
    frame = project.get_feature_group(name, version).head(rows)
    return {"columns": [str(column) for column in frame.columns], "rows": records(frame)}


def _dataset_item(dataset: TrainingDataset) -> dict[str, Any]:
    record = dataset.record
    rows = int(record.statistics.get("rows", 0))
    split = dict(record.split or {})
    return {
        "version": dataset.version,
        "description": record.description,
        "created_at": time_text(record.created_at),
        "rows": rows,
        "split_by": record.split_by,
        "seed": record.seed,
        "start": time_text(record.start),
        "end": time_text(record.end),
        "splits": [{"name": key, "fraction": value, "rows": round(rows * value)} for key, value in split.items()],
        "sources": [
            {"feature_group": key.rsplit(":", 1)[0], "version": int(key.rsplit(":", 1)[1]), "commit": commit}
            if ":" in key
            else {"feature_group": key, "version": None, "commit": commit}
            for key, commit in sorted(dataset.sources.items())
        ],
    }


def _view_item(view: FeatureView) -> dict[str, Any]:
    return {
        "name": view.name,
        "version": view.version,
        "description": view.description,
        "labels": view.labels,
        "feature_groups": [
            {
                "name": part.group.name,
                "version": part.group.version,
                "features": list(part.output_names()),
                # the spine (first group) gives the rows; every other group joins on its primary key, matched
                # to spine columns, as of each spine row's event time
                "join": None
                if index == 0
                else [
                    {"spine": spine, "key": key}
                    for spine, key in zip(part.on or part.group.primary_key, part.group.primary_key, strict=True)
                ],
                "primary_key": list(part.group.primary_key),
            }
            for index, part in enumerate(view.query.parts)
        ],
        "created_at": time_text(view.record.created_at),
    }


def feature_views(project: Project, search: str | None, limit: int, offset: int) -> dict[str, Any]:
    """Feature view versions whose name or description contain ``search``."""
    check_page(limit, offset)
    views = project.feature_views(search or None)
    return {
        "total": len(views),
        "limit": limit,
        "offset": offset,
        "items": [_view_item(view) for view in views[offset : offset + limit]],
    }


def feature_view_detail(project: Project, name: str, version: int) -> dict[str, Any]:
    """A feature view version with its training datasets: splits, sizes and source commits."""
    view = project.get_feature_view(name, version)
    datasets = sorted(view.training_datasets(), key=lambda item: item.version, reverse=True)
    return _view_item(view) | {"training_datasets": [_dataset_item(dataset) for dataset in datasets]}
