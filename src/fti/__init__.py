"""FTI Stack: feature, training and inference pipelines around a feature store and a model registry.

Example:
    >>> import fti
    >>> project = fti.connect()  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fti import errors, expect
from fti.config import load_config
from fti.project import Project, connect

try:
    __version__ = version("fti")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["Project", "__version__", "connect", "errors", "expect", "load_config"]
