"""Options shared by every command group, and the check that ``--project`` names a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fti.errors import NotFoundError

__all__ = ["ProjectOption", "existing_project"]


def existing_project(folder: Path) -> Path:
    """``folder`` when it holds a project (an ``fti.yaml`` there or above, or a ``.fti`` data folder).

    Only ``fti init`` (and ``fti demo``) create projects: a command pointed at a folder without one says so
    rather than leaving an empty catalog behind.

    Raises:
        NotFoundError: no project is there, with the commands that make or find one.
    """
    from fti.config import DATA_DIR, find_config_file  # pydantic: imported when a command runs, not for --help

    if folder.is_file() or find_config_file(folder) is not None or (folder / DATA_DIR).is_dir():
        return folder
    shown = "here" if folder == Path() else str(folder)
    where = "" if folder == Path() else f" {folder}"
    raise NotFoundError(
        f"No FTI project {'' if shown == 'here' else 'in '}{shown}: no fti.yaml there or above, and no {DATA_DIR} "
        f"folder. Run `fti init{where}` to create one, or point --project/-p at an existing project's folder."
    )


#: ``--project/-p DIR``: the project folder (its fti.yaml, or the nearest one above); default: here
ProjectOption = Annotated[
    Path, typer.Option("--project", "-p", callback=existing_project, help="Project folder (default: here).")
]
