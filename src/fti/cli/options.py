"""Options shared by every command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ProjectOption"]

#: ``--project/-p DIR``: the project folder (its fti.yaml, or the nearest one above); default: here
ProjectOption = Annotated[Path, typer.Option("--project", "-p", help="Project folder (default: here).")]
