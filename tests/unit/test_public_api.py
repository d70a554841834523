"""The public surface is exactly what fti.__all__ exports, and all of it is documented."""

from __future__ import annotations

import fti


def test_all_names_exist_and_are_documented() -> None:
    for name in fti.__all__:
        value = getattr(fti, name)
        if name != "__version__":
            assert (value.__doc__ or "").strip(), f"fti.{name} has no docstring"


def test_connect_is_the_entry_point() -> None:
    assert {"connect", "Project", "errors"} <= set(fti.__all__)
