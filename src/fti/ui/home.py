"""What the dashboard's home page shows: what the project holds, and what needs a look now.

The counts of the catalog's objects, then each deployment with the model version its champion serves, its
latest stored drift report (drifted or not, and the alerts it fired), the latest runs, and what failed: runs and
pipeline runs. Every part is one catalog query or one stored report per deployment, so the page stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fti.core.pipelines import RunState
from fti.ui import deployments, monitoring, summaries

if TYPE_CHECKING:
    import pandas as pd

    from fti.project import Project

__all__ = ["home"]

#: how many recent runs and failures the page lists
RECENT = 5
_FAILED_PIPELINE_STATES = {RunState.FAILED, RunState.TIMED_OUT, RunState.LOST}


def home(project: Project) -> dict[str, Any]:
    """The home page's data: ``counts``, ``deployments``, ``recent_runs`` and ``failures``."""
    return {
        "counts": summaries.overview(project),
        "deployments": [_deployment(project, item) for item in deployments.deployments(project)["items"]],
        "recent_runs": _runs(project, None),
        "failures": {
            "runs": _runs(project, "attributes.status = 'failed'"),
            "pipeline_runs": [
                {
                    "id": run.id,
                    "pipeline": run.pipeline,
                    "state": run.state.value,
                    "created_at": run.created_at.isoformat(timespec="seconds"),
                    "error": _last_line(run.error),
                }
                for run in project.pipeline_runs(limit=50)
                if run.state in _FAILED_PIPELINE_STATES
            ][:RECENT],
        },
    }


def _deployment(project: Project, item: dict[str, Any]) -> dict[str, Any]:
    """A deployment with the variant its champion alias serves (else its largest share) and its latest drift."""
    variants = item["variants"]
    champion = next((v for v in variants if v["reference"].endswith("@champion")), None)
    if champion is None and variants:
        champion = max(variants, key=lambda variant: variant["share"])
    return {
        "name": item["name"],
        "champion": champion,
        "variants": len(variants),
        "logged_rows": item["logged_rows"],
        "last_request": item["last_request"],
        "drift": monitoring.latest_drift(project, item["name"]),
    }


def _runs(project: Project, filter: str | None) -> list[dict[str, Any]]:
    frame: pd.DataFrame = project.tracking.runs(None, filter, ["-start_time"], RECENT)
    return [
        {
            "run_id": str(row["run_id"]),
            "name": row["name"],
            "experiment": row["experiment"],
            "status": row["status"],
            # records() writes times as ISO with "Z": the pages show "+00:00" times as UTC
            "start_time": str(row["start_time"]).replace("Z", "+00:00"),
        }
        for row in summaries.records(frame[["run_id", "name", "experiment", "status", "start_time"]])
    ]


def _last_line(text: str | None) -> str | None:
    """The last line of an error (a traceback's last line is the exception and its message)."""
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else None
