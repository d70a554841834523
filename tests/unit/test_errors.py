"""The error hierarchy carries HTTP statuses and exit codes."""

from __future__ import annotations

import pytest

from fti import errors


@pytest.mark.parametrize(
    ("cls", "status", "code"),
    [
        (errors.FtiError, 500, 1),
        (errors.ValidationError, 422, 2),
        (errors.NotFoundError, 404, 2),
        (errors.ConflictError, 409, 2),
        (errors.AuthError, 401, 2),
        (errors.ForbiddenError, 403, 2),
        (errors.BackendError, 503, 1),
        (errors.IntegrityError, 503, 1),
        (errors.CatalogSchemaError, 503, 1),
    ],
)
def test_status_and_exit_codes(cls: type[errors.FtiError], status: int, code: int) -> None:
    assert cls.http_status == status
    assert cls.exit_code == code
    assert issubclass(cls, errors.FtiError)


def test_missing_extra_message() -> None:
    assert str(errors.MissingExtraError.for_backend("redis", "redis")) == (
        "Backend 'redis' needs the 'redis' extra: pip install 'fti[redis]'"
    )


def test_every_error_class_is_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc
