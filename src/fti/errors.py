"""The one exception hierarchy of FTI Stack.

Every error says what is wrong, which object, and how to fix it. Each class carries the HTTP status
the servers answer with and the exit code the CLI ends with::

    FtiError                     500 / exit 1   internal error (a bug: please report it)
    ├── UserError                400 / exit 2   the caller can fix it
    │   ├── ValidationError      422 / exit 2   bad input: config, names, schemas, data
    │   │   └── ParameterError   422 / exit 2   one named parameter out of its range
    │   ├── NotFoundError        404 / exit 2   no such object
    │   ├── ConflictError        409 / exit 2   the object exists or changed meanwhile
    │   ├── AuthError            401 / exit 2   missing or invalid credentials
    │   └── ForbiddenError       403 / exit 2   valid credentials whose role does not allow it
    └── BackendError             503 / exit 1   a store or service failed or is unreachable
        ├── CatalogSchemaError   503 / exit 1   the catalog needs `fti db upgrade` (or a newer fti)
        ├── IntegrityError       503 / exit 1   stored bytes do not match their recorded checksum
        ├── MissingExtraError    503 / exit 1   an optional dependency is not installed
        └── RequirementError     503 / exit 1   a model version's recorded requirement is missing or mismatched
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthError",
    "BackendError",
    "CatalogSchemaError",
    "ConflictError",
    "ForbiddenError",
    "FtiError",
    "IntegrityError",
    "MissingExtraError",
    "NotFoundError",
    "ParameterError",
    "RequirementError",
    "UserError",
    "ValidationError",
]


class FtiError(Exception):
    """Base of every error raised by FTI Stack."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1


class UserError(FtiError):
    """An error the caller can fix by changing the request, the data or the configuration."""

    http_status = 400
    exit_code = 2


class ValidationError(UserError):
    """Input that does not meet its contract: a config key, a name, a column, a row."""

    http_status = 422


class ParameterError(ValidationError):
    """One parameter of a call or a request is out of its range; ``name`` says which (REST answers name it)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class NotFoundError(UserError):
    """The named object does not exist."""

    http_status = 404


class ConflictError(UserError):
    """The object already exists, or it changed since it was read."""

    http_status = 409


class AuthError(UserError):
    """Missing or invalid credentials."""

    http_status = 401


class ForbiddenError(UserError):
    """Valid credentials whose role does not allow the operation."""

    http_status = 403


class BackendError(FtiError):
    """A storage backend or service failed or cannot be reached."""

    http_status = 503
    exit_code = 1


class CatalogSchemaError(BackendError):
    """The catalog's schema is not the one this version of fti works with."""


class IntegrityError(BackendError):
    """Stored bytes no longer match the checksum recorded when they were written."""


class MissingExtraError(BackendError):
    """An optional dependency (an extra) is needed but not installed."""

    @classmethod
    def for_backend(cls, backend: str, extra: str) -> MissingExtraError:
        """Build the standard message for a backend whose driver is missing."""
        return cls(f"Backend '{backend}' needs the '{extra}' extra: pip install 'fti[{extra}]'")


class RequirementError(BackendError):
    """A package a model version recorded as a requirement is not installed here, or in another version."""
