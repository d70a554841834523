"""Rules for the names users give to objects and the keys under which files are stored."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from fti.errors import ValidationError

__all__ = ["IDENTIFIER_PATTERN", "validate_artifact_key", "validate_identifier"]

#: feature groups, views, deployments, experiments: usable as table and column names without quoting
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_KEY_PART = re.compile(r"^[A-Za-z0-9_.@=+-]+$")


def validate_identifier(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a safe identifier, else raise a ValidationError.

    Identifiers start with a letter or underscore, contain only letters, digits and underscores and
    have at most 63 characters, so they can be used as table and column names without quoting.
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValidationError(
            f"Invalid {what} {name!r}: use letters, digits and underscores, starting with a letter or "
            "underscore, at most 63 characters (for example 'card_activity')."
        )
    return name


def validate_artifact_key(key: str) -> str:
    """Return the normalized artifact key, or raise a ValidationError for an unsafe one.

    A key is a relative POSIX path of non-empty parts made of letters, digits and ``_.@=+-``; ``..``,
    ``.``, absolute paths, backslashes and empty parts are rejected so no key can escape its store.
    """
    if not isinstance(key, str) or not key:
        raise ValidationError("Invalid artifact key '': a key is a relative path such as 'models/m1/model.pkl'.")
    if key.startswith("/") or "\\" in key:
        raise ValidationError(
            f"Invalid artifact key {key!r}: absolute paths and backslashes are not allowed; "
            "use a relative path such as 'models/m1/model.pkl'."
        )
    parts = key.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise ValidationError(f"Invalid artifact key {key!r}: empty, '.' and '..' path parts are not allowed.")
        if not _KEY_PART.match(part):
            raise ValidationError(
                f"Invalid artifact key {key!r}: part {part!r} may only contain letters, digits and '_.@=+-'."
            )
    return str(PurePosixPath(*parts))
