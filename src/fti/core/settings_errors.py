"""Turn pydantic's validation errors into one readable line per problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pydantic

__all__ = ["describe_settings_error"]

_EXPECTED = {
    "extra_forbidden": "an unknown key; remove it or check its spelling",
    "missing": "a required key is missing",
}


def describe_settings_error(
    exc: pydantic.ValidationError,
    source: str,
    prefix: str = "",
    origin: Callable[[str], str | None] | None = None,
) -> str:
    """Describe every error of ``exc`` by key path, offending value and expectation.

    ``origin(path)`` names where a key's value came from (``"environment variable FTI_SERVING_PORT"``), for
    settings merged from several places.

    Example: ``Invalid fti.yaml: catalog.pool_size = 'big': Input should be a valid integer.``
    """
    lines = []
    for err in exc.errors():
        path = ".".join(str(part) for part in (*([prefix] if prefix else []), *err["loc"]))
        expected = _EXPECTED.get(err["type"], err["msg"].removeprefix("Value error, "))
        where = origin(path) if origin is not None else None
        named = f"{path} (from {where})" if where else path
        if err["type"] == "missing":
            lines.append(f"{named}: {expected}")
        else:
            lines.append(f"{named} = {err.get('input')!r}: {expected}")
    return f"Invalid {source}: " + "; ".join(lines) + "."
