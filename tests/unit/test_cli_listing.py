"""CLI listings fit the terminal: names are never cut, descriptions take one line of what is left."""

from __future__ import annotations

from rich.console import Console

from fti.cli.console import listing

HEADERS = ("name", "version", "commits", "description")
ROWS = [
    ("merchant_activity_by_hour", "12", "1,204", "Per-merchant spending in windows of 1 h, 1 d and 7 d, and words."),
    ("cards", "1", "3", ""),
]


def _render(width: int, rows: list[tuple[str, ...]] = ROWS) -> list[str]:
    console = Console(width=width, record=True)
    console.print(listing(HEADERS, rows, width=width))
    return console.export_text().splitlines()


def test_names_stay_whole_and_descriptions_take_one_line_of_what_is_left() -> None:
    lines = _render(80)
    body = [line for line in lines if "merchant_activity_by_hour" in line]
    assert len(body) == 1 and "Per-merchant spending" in body[0] and "…" in body[0]
    assert max(len(line) for line in lines) <= 80
    assert len([line for line in lines if line.startswith("│")]) == 2  # one line a row


def test_a_wide_terminal_shows_the_whole_description() -> None:
    assert any("and words." in line for line in _render(200))


def test_too_little_room_drops_the_description_before_cutting_a_name() -> None:
    lines = _render(52)
    assert "description" not in "".join(lines) and any("merchant_activity_by_hour" in line for line in lines)


def test_a_terminal_too_narrow_for_the_names_folds_them_whole() -> None:
    lines = _render(30)
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert cells == "merchant_activity_by_hourcards" and not any("…" in line for line in lines)
