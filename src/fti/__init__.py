"""FTI Stack: feature, training and inference pipelines around a feature store and a model registry.

Example:
    >>> import fti
    >>> project = fti.connect()  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from fti import agg, errors, expect, sources, streams
from fti.config import load_config
from fti.orchestration import (
    PipelineContext,
    on_alert,
    on_alias,
    on_commit,
    on_model_version,
    on_pipeline_run,
    pipeline,
)
from fti.project import Project, connect

try:
    __version__ = version("fti")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

if TYPE_CHECKING:
    from fti.llm.embeddings import embed
    from fti.training import evaluate, space

__all__ = [
    "PipelineContext",
    "Project",
    "__version__",
    "agg",
    "connect",
    "embed",
    "errors",
    "evaluate",
    "expect",
    "load_config",
    "on_alert",
    "on_alias",
    "on_commit",
    "on_model_version",
    "on_pipeline_run",
    "pipeline",
    "sources",
    "space",
    "streams",
]

#: public names whose modules need an extra ('ml', 'llm'), imported on first use so `import fti` stays light
_LAZY = {"embed": "fti.llm.embeddings", "evaluate": "fti.training.evaluation", "space": "fti.training"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fti' has no attribute '{name}'")
