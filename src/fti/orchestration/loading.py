"""Importing pipelines modules (``pipelines:`` in ``fti.yaml``) and the steps a worker process runs.

A source is a dotted module name (``my_project.pipelines``) or a ``.py`` file relative to the project
root. A module that does not import is refused with its file and line; a name defined twice, with both
places.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from fti.errors import ValidationError
from fti.orchestration.definitions import FILE_MODULE_PREFIX, Pipeline, Step, collecting

__all__ = ["import_source", "load_pipelines", "resolve_step"]


def load_pipelines(sources: Sequence[str], root: Path) -> dict[str, Pipeline]:
    """Every pipeline the sources define, by name.

    Raises:
        ValidationError: a source does not exist or does not import, or two pipelines share a name.
    """
    found: dict[str, Pipeline] = {}
    for source in sources:
        for pipeline in import_source(source, root):
            add_unique(found, pipeline)
    return found


def add_unique(found: dict[str, Pipeline], pipeline: Pipeline) -> None:
    """Add ``pipeline`` to ``found``; ValidationError when another pipeline has its name."""
    other = found.get(pipeline.name)
    if other is not None and other is not pipeline:
        raise ValidationError(
            f"{pipeline.spec.defined_at}: pipeline '{pipeline.name}' is already defined at {other.spec.defined_at}: "
            "give one of them another name."
        )
    found[pipeline.name] = pipeline


def import_source(source: str, root: Path) -> list[Pipeline]:
    """The pipelines one source defines (a module imported before is scanned instead of re-run)."""
    with collecting() as collected:
        module = _import(source, root)
    pipelines = list(collected)
    pipelines += [value for value in vars(module).values() if isinstance(value, Pipeline) and value not in pipelines]
    return pipelines


def resolve_step(reference: str, root: Path | None = None) -> Step:
    """The function a ``module:qualname`` step reference names (a decorated function's own function)."""
    module_name, _, qualname = reference.rpartition(":")
    module = _import(module_name, root or Path.cwd())
    value: object = module
    try:
        for part in qualname.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise ValidationError(f"Step '{reference}': '{module_name}' has no '{qualname}' (was it renamed?).") from None
    if isinstance(value, Pipeline):
        if len(value.steps) != 1:
            raise ValidationError(f"Step '{reference}' is a pipeline of {len(value.steps)} steps, not one step.")
        return value.steps[0]
    if not callable(value):
        raise ValidationError(f"Step '{reference}' is not a function.")
    return value


def _is_file(source: str) -> bool:
    return source.endswith(".py") or "/" in source or "\\" in source


def _import(source: str, root: Path) -> ModuleType:
    if not _is_file(source):
        try:
            return importlib.import_module(source)
        except ValidationError:
            raise
        except ModuleNotFoundError as exc:
            if exc.name and source.startswith(exc.name):
                raise ValidationError(
                    f"Pipelines module '{source}' cannot be found: list a module on the Python path or a .py file "
                    "relative to the project folder."
                ) from None
            raise _import_error(source, exc) from None
        except Exception as exc:
            raise _import_error(source, exc) from None
    path = Path(source).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_file():
        raise ValidationError(f"Pipelines module {path} does not exist: fix the 'pipelines:' list of fti.yaml.")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"{FILE_MODULE_PREFIX}{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ValidationError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _import_error(str(path), exc, path) from None
    return module


def _import_error(source: str, exc: BaseException, path: Path | None = None) -> ValidationError:
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename}:{exc.lineno}"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        inside = [frame for frame in frames if path is None or Path(frame.filename) == path] or frames
        where = f"{inside[-1].filename}:{inside[-1].lineno}" if inside else source
    return ValidationError(
        f"{where}: pipelines module '{source}' does not import: {type(exc).__name__}: {exc}. Fix it and start again."
    )
