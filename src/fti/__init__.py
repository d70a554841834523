"""FTI Stack: feature, training and inference pipelines around a feature store and a model registry.

``import fti`` is light: each public name below is imported on first use (PEP 562), so a command that needs
only the config or the errors never pays for pandas, DuckDB or the services.

Example:
    >>> import fti
    >>> project = fti.connect()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fti import errors

if TYPE_CHECKING:
    from fti import agg, expect, sources, streams
    from fti.config import load_config
    from fti.llm.embeddings import embed
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
    from fti.training import evaluate, space

    __version__: str

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

#: public names and the module each comes from, imported on first use so `import fti` stays light (the
#: services pull pandas, pyarrow.dataset and DuckDB; 'embed', 'evaluate' and 'space' need an extra)
_LAZY = {
    "Project": "fti.project",
    "connect": "fti.project",
    "load_config": "fti.config",
    "PipelineContext": "fti.orchestration",
    "on_alert": "fti.orchestration",
    "on_alias": "fti.orchestration",
    "on_commit": "fti.orchestration",
    "on_model_version": "fti.orchestration",
    "on_pipeline_run": "fti.orchestration",
    "pipeline": "fti.orchestration",
    "embed": "fti.llm.embeddings",
    "evaluate": "fti.training.evaluation",
    "space": "fti.training",
}
#: public subpackages, imported on first use
_LAZY_MODULES = frozenset({"agg", "expect", "sources", "streams"})


def __getattr__(name: str) -> Any:
    import importlib
    import importlib.util

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _LAZY_MODULES:
        value = importlib.import_module(f"fti.{name}")
    elif name == "__version__":
        value = _version()
    elif not name.startswith("_") and importlib.util.find_spec(f"fti.{name}") is not None:
        # any subpackage, as when `import fti` imported them all: `fti.monitoring.FeatureDriftRule(...)`
        value = importlib.import_module(f"fti.{name}")
    else:
        raise AttributeError(f"module 'fti' has no attribute '{name}'")
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fti")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+source"
