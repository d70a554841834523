"""Rich consoles shared by every command: results to stdout, errors and progress to stderr, and tables that fit
the terminal without cutting names."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["err", "listing", "out"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

#: narrower than this, a prose column is left out rather than shown as a few letters
_MIN_PROSE = 12


def listing(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    prose: Sequence[str] = ("description",),
    title: str | None = None,
    width: int | None = None,
) -> Table:
    """A table of objects that fits the terminal: every column but ``prose`` keeps its values whole on one line
    (names, versions, references are never cut), and the prose columns share the width left, each value cut to
    one line; where too little is left they are dropped (the object's ``show`` command has them). A terminal too
    narrow even for the other columns gets them folded onto more lines. Cells are console markup (escape what
    the user wrote). ``width``: the terminal's (default: the output console's)."""
    cells = [[Text.from_markup(value) for value in row] for row in rows]
    fixed = [index for index, header in enumerate(headers) if header not in prose]
    widths = {index: max([Text(headers[index]).cell_len, *(row[index].cell_len for row in cells)]) for index in fixed}
    # each column takes its content, a space either side and a rule; the table one more rule
    left = (width or out.width) - sum(column + 3 for column in widths.values()) - 1
    shown_prose = [index for index, header in enumerate(headers) if header in prose]
    share = left // len(shown_prose) - 3 if shown_prose else 0
    if share < _MIN_PROSE:
        shown_prose = []
    table = Table(title=title)
    kept = sorted([*fixed, *shown_prose])
    fits = left >= 0  # the fixed columns fit on one line (prose is shown only where they leave room)
    for index in kept:
        if index in widths:
            if fits:
                table.add_column(headers[index], no_wrap=True, min_width=widths[index])
            else:  # too narrow for these columns on one line: their values fold, never cut
                table.add_column(headers[index], overflow="fold")
        else:
            longest = max([Text(headers[index]).cell_len, *(row[index].cell_len for row in cells)])
            table.add_column(headers[index], no_wrap=True, overflow="ellipsis", width=min(share, longest))
    for row in cells:
        table.add_row(*(row[index] for index in kept))
    return table
