"""Rich consoles shared by every command: results to stdout, errors and progress to stderr."""

from __future__ import annotations

from rich.console import Console

__all__ = ["err", "out"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
