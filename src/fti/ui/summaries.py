"""What the dashboard shows, as plain JSON-ready data read through the project's services.

The JSON API returns these dicts as they are, and the pages render the same dicts, so a page never
shows anything the API does not. The feature store's are in :mod:`fti.ui.feature_store`.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fti.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from fti.project import Project
    from fti.registry.version import ModelVersion

__all__ = [
    "IMAGE_TYPES",
    "MAX_PAGE",
    "check_page",
    "compare_runs",
    "metric_history",
    "model_detail",
    "model_lineage",
    "models",
    "overview",
    "page",
    "records",
    "run_detail",
    "runs",
    "time_text",
]

MAX_PAGE = 500
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}


def time_text(value: datetime | None) -> str | None:
    """``value`` as ISO text to the second; None stays None."""
    return None if value is None else value.isoformat(timespec="seconds")


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of ``items`` with the total count: ``{"total", "limit", "offset", "items"}``."""
    check_page(limit, offset)
    return {"total": len(items), "limit": limit, "offset": offset, "items": items[offset : offset + limit]}


def check_page(limit: int, offset: int) -> None:
    """Refuse a page size outside 1..MAX_PAGE or a negative offset."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}.")
    if offset < 0:
        raise ValidationError(f"offset must be zero or positive, got {offset}.")


def overview(project: Project) -> dict[str, Any]:
    """Counts of what the catalog holds."""
    counts = project.counts()
    return {
        "project": project.name,
        "feature_groups": counts.get("feature_groups", 0),
        "feature_views": counts.get("feature_views", 0),
        "training_datasets": counts.get("training_datasets", 0),
        "experiments": len(project.tracking.experiments()),
        "runs": counts.get("runs", 0),
        "models": counts.get("registered_models", 0),
        "model_versions": counts.get("model_versions", 0),
    }


# -- experiments -----------------------------------------------------------------------------------


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame``'s rows as JSON-ready dicts (times in ISO format, NaN as None)."""
    items: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))
    return items


def runs(
    project: Project,
    *,
    experiment: str | None,
    filter: str | None,
    order_by: list[str],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """One page of runs matching ``filter`` (the syntax of :meth:`fti.Project.runs`), with the total count."""
    check_page(limit, offset)
    tracking = project.tracking
    total = tracking.count_runs(experiment or None, filter or None)
    frame = tracking.runs(experiment or None, filter or None, order_by or None, limit, offset=offset)
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "columns": [str(column) for column in frame.columns],
        "experiments": tracking.experiments(),
        "items": records(frame),
    }


def run_detail(project: Project, run_id: str) -> dict[str, Any]:
    """A run: attributes, params, latest metrics, tags, artifacts, code version, environment, lineage."""
    run = project.get_run(run_id)
    info = run.info
    lineage = project.registry.run_lineage(run.id)
    training = lineage.training_data
    artifacts = []
    for path, key in sorted(run.artifacts.items()):
        suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
        artifacts.append(
            {"path": path, "size": project.artifacts.get_record(key).size, "is_image": suffix in IMAGE_TYPES}
        )
    return {
        "run_id": run.id,
        "experiment": info.experiment,
        "name": info.name,
        "status": info.status.value,
        "start_time": time_text(info.start_time),
        "end_time": time_text(info.end_time),
        "parent_run_id": info.parent_run_id,
        "error": info.error,
        "params": run.params,
        "metrics": {key: _number(value) for key, value in run.metrics.items()},
        "tags": run.tags,
        "artifacts": artifacts,
        "code": {
            "git_commit": info.code.git_commit,
            "is_dirty": info.code.is_dirty,
            "entry_point": info.code.entry_point,
        },
        "environment": {"python_version": info.python_version, "packages": dict(sorted(info.packages.items()))},
        "training_data": None
        if training is None
        else {
            "feature_view": training.feature_view_name,
            "feature_view_version": training.feature_view_version,
            "training_dataset_version": training.training_dataset_version,
            "feature_group_commits": [
                {"name": item.name, "version": item.version, "commit": item.commit}
                for item in training.feature_group_commits
            ],
        },
        "child_run_ids": list(lineage.child_run_ids),
        "model_versions": [{"name": item.name, "version": item.version} for item in lineage.model_versions],
    }


def metric_history(project: Project, run_id: str, key: str) -> dict[str, Any]:
    """Every logged value of one metric of a run: ``steps`` and ``values`` in logging order."""
    frame = project.get_run(run_id).metric_history(key)
    if frame.empty:
        raise NotFoundError(f"Run '{run_id}' has no metric '{key}': see the run's metrics for the logged keys.")
    return {
        "run_id": run_id,
        "key": key,
        "steps": [int(step) for step in frame["step"].tolist()],
        "values": [_number(float(value)) for value in frame["value"].tolist()],
    }


def compare_runs(project: Project, run_ids: list[str]) -> dict[str, Any]:
    """Runs side by side: params (whether the values logged differ, whether some run did not log it), latest
    metrics and metric curves over steps."""
    if not 2 <= len(run_ids) <= 20:
        raise ValidationError(f"Compare between 2 and 20 runs, got {len(run_ids)}: select runs in the runs table.")
    table = project.compare_runs(run_ids)
    params: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for index, row in table.iterrows():
        label = str(index)
        values = [None if _is_missing(value) else value for value in row.tolist()]
        if label.startswith("params."):
            shown = [None if value is None else str(value) for value in values]
            present = {value for value in shown if value is not None}
            # a param only some runs logged (another model kind's, say) is not a difference between them
            params.append({"key": label[7:], "values": shown, "differs": len(present) > 1, "is_partial": None in shown})
        elif label.startswith("metrics."):
            numbers = [None if v is None else _number(float(v)) for v in values]
            metrics.append({"key": label[8:], "values": numbers, "best": _best(label[8:], numbers)})
    names: list[Any] = list(table.loc["name"]) if "name" in table.index else [None] * len(run_ids)
    curves = {
        str(item["key"]): [_history_or_empty(project, run_id, str(item["key"])) for run_id in run_ids]
        for item in metrics
    }
    return {
        "runs": [{"run_id": run_id, "name": name} for run_id, name in zip(run_ids, names, strict=True)],
        "params": params,
        "metrics": metrics,
        "curves": curves,
    }


_LOWER_IS_BETTER = re.compile(r"loss|error|mse|mae|rmse|mape|perplexity|latency", re.IGNORECASE)


def _best(key: str, values: list[float | None]) -> int | None:
    """Index of the best value: the lowest for losses and errors, else the highest; None if not comparable."""
    present = [(value, index) for index, value in enumerate(values) if value is not None]
    if len(present) < 2 or len({value for value, _ in present}) == 1:
        return None
    return (min(present) if _LOWER_IS_BETTER.search(key) else max(present))[1]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _history_or_empty(project: Project, run_id: str, key: str) -> dict[str, Any]:
    try:
        return metric_history(project, run_id, key)
    except NotFoundError:
        return {"run_id": run_id, "key": key, "steps": [], "values": []}


# -- models ----------------------------------------------------------------------------------------


def models(project: Project, limit: int, offset: int) -> dict[str, Any]:
    """Registered models with their latest version and aliases."""
    items = [
        {
            "name": model.name,
            "created_at": time_text(model.created_at),
            "latest_version": model.latest_version,
            "aliases": dict(sorted(model.aliases.items())),
        }
        for model in project.models()
    ]
    return page(items, limit, offset)


def _version_item(version: ModelVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "flavor": version.flavor,
        "created_at": time_text(version.created_at),
        "run_id": version.run_id,
        "metrics": {key: _number(value) for key, value in version.metrics.items()},
        "aliases": list(version.aliases),
        "description": version.description,
        "tags": version.tags,
    }


def model_detail(project: Project, name: str) -> dict[str, Any]:
    """A registered model: its versions (newest first) with metrics, the best version per metric, its aliases
    and their history."""
    versions = project.registry.list_versions(name)
    if not versions:
        raise NotFoundError(f"Model '{name}' does not exist: list registered models with `fti models list`.")
    history = project.registry.alias_history(name)
    items = [_version_item(version) for version in sorted(versions, key=lambda v: v.version, reverse=True)]
    keys = sorted({key for item in items for key in item["metrics"]})
    best = {}
    for key in keys:
        index = _best(key, [item["metrics"].get(key) for item in items])
        if index is not None:
            best[key] = items[index]["version"]
    return {
        "name": name,
        "versions": items,
        "best": best,
        "aliases": {alias: version.version for version in versions for alias in version.aliases},
        "alias_history": [
            {
                "alias": move.alias,
                "from_version": move.from_version,
                "to_version": move.to_version,
                "is_protected": move.is_protected,
                "is_forced": move.is_forced,
                "changed_by": move.changed_by,
                "changed_at": time_text(move.changed_at),
                "reason": move.reason,
            }
            for move in sorted(history, key=lambda move: move.changed_at, reverse=True)
        ],
    }


def model_lineage(project: Project, name: str, version: int) -> dict[str, Any]:
    """Lineage of a model version as a graph: feature-group commits -> feature view -> training dataset ->
    run -> model version. Nodes carry a ``kind``, a ``label`` and the dashboard ``href`` to open."""
    model = project.get_model(f"{name}:{version}")
    lineage = model.lineage()
    nodes: list[dict[str, Any]] = []
    edges: list[tuple[str, str]] = []
    model_id = f"model:{name}:{version}"
    nodes.append(
        {
            "id": model_id,
            "kind": "model version",
            "label": f"{name} v{version}",
            "detail": ", ".join(model.aliases),
            "href": f"/models/{name}/versions/{version}",
        }
    )
    upstream = model_id
    if lineage.run is not None:
        run_id = f"run:{lineage.run.id}"
        nodes.append(
            {
                "id": run_id,
                "kind": "run",
                "label": lineage.run.name or lineage.run.id[:8],
                "detail": f"{lineage.run.experiment} · {lineage.run.id[:8]}",
                "href": f"/runs/{lineage.run.id}",
            }
        )
        edges.append((run_id, upstream))
        upstream = run_id
    training = lineage.training_data
    if training is not None:
        view_href = f"/feature-views/{training.feature_view_name}/{training.feature_view_version}"
        dataset_id = (
            f"td:{training.feature_view_name}:{training.feature_view_version}:{training.training_dataset_version}"
        )
        view_id = f"fv:{training.feature_view_name}:{training.feature_view_version}"
        nodes.append(
            {
                "id": dataset_id,
                "kind": "training dataset",
                "label": f"{training.feature_view_name} td v{training.training_dataset_version}",
                "detail": f"of view v{training.feature_view_version}",
                "href": view_href,
            }
        )
        nodes.append(
            {
                "id": view_id,
                "kind": "feature view",
                "label": f"{training.feature_view_name} v{training.feature_view_version}",
                "detail": f"joins {len(training.feature_group_commits)} feature group(s)",
                "href": view_href,
            }
        )
        edges += [(dataset_id, upstream), (view_id, dataset_id)]
        for item in training.feature_group_commits:
            commit_id = f"fg:{item.name}:{item.version}:{item.commit}"
            nodes.append(
                {
                    "id": commit_id,
                    "kind": "feature group commit",
                    "label": f"{item.name} v{item.version}",
                    "detail": f"commit {item.commit}",
                    "href": f"/feature-groups/{item.name}/{item.version}",
                }
            )
            edges.append((commit_id, view_id))
    return {"model": name, "version": version, "nodes": nodes, "edges": [{"source": s, "target": t} for s, t in edges]}
