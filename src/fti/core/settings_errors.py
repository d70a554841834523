"""Turn pydantic's validation errors into one readable line per problem."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pydantic

__all__ = ["describe_settings_error"]

_EXPECTED = {
    "extra_forbidden": "an unknown key; remove it or check its spelling",
    "missing": "a required key is missing",
}


def describe_settings_error(exc: pydantic.ValidationError, source: str, prefix: str = "") -> str:
    """Describe every error of ``exc`` by key path, offending value and expectation.

    Example: ``Invalid fti.yaml: catalog.pool_size = 'big': Input should be a valid integer.``
    """
    lines = []
    for err in exc.errors():
        path = ".".join(str(part) for part in (*([prefix] if prefix else []), *err["loc"]))
        expected = _EXPECTED.get(err["type"], err["msg"].removeprefix("Value error, "))
        if err["type"] == "missing":
            lines.append(f"{path}: {expected}")
        else:
            lines.append(f"{path} = {err.get('input')!r}: {expected}")
    return f"Invalid {source}: " + "; ".join(lines) + "."
