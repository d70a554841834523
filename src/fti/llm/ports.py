"""What the LLM workflow needs from the rest of the platform, as small Protocols.

The library (fine-tuning, evaluation) logs to a :class:`TextRunLogger` (a tracking run is one); the
tracked workflow starts runs with a :class:`TextRunStarter` (a project's tracking service) and reads
base models from a :class:`ModelSource` (the model registry). Nothing here imports those services.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

__all__ = ["ModelSource", "NullTextRunLogger", "TextRun", "TextRunLogger", "TextRunStarter"]


class TextRunLogger(Protocol):
    """Where fine-tuning and evaluation record params, metrics, tables and tags."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record the run's parameters."""
        ...

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record metric values, optionally at a training step."""
        ...

    def log_dict(self, value: Any, artifact_file: str, /) -> object:
        """Store a JSON-ready value as an artifact (a table: ``{"columns": [...], "data": [[...], ...]}``)."""
        ...

    def set_tag(self, key: str, value: str) -> None:
        """Attach a tag to the run."""
        ...


class NullTextRunLogger:
    """A :class:`TextRunLogger` that records nothing."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Ignore the params."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Ignore the metrics."""

    def log_dict(self, value: Any, artifact_file: str, /) -> object:
        """Ignore the value."""
        return artifact_file

    def set_tag(self, key: str, value: str) -> None:
        """Ignore the tag."""


class TextRun(TextRunLogger, Protocol):
    """A tracking run: logs, registers models, ends when its block does."""

    def __enter__(self) -> TextRun: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    @property
    def id(self) -> str:
        """The run's id."""
        ...

    def log_model(self, model: Any, name: str, *, signature: Any = None, tags: Mapping[str, Any] | None = None) -> Any:
        """Register ``model`` as the next version of ``name`` with the run's lineage."""
        ...


class TextRunStarter(Protocol):
    """Starts tracking runs (a project's tracking service)."""

    def start_run(self, experiment: str, name: str | None = None, *, training_data: Any = None) -> TextRun:
        """Start a run in ``experiment`` recording ``training_data`` as its lineage."""
        ...


class ModelSource(Protocol):
    """Registered model versions (the model registry)."""

    def get_model(self, ref: str) -> Any:
        """The version ``ref`` names (``name``, ``name:3``, ``name@alias``) with ``name``, ``version``, ``load()``."""
        ...
