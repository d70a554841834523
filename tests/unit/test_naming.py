"""Identifier and artifact-key rules."""

from __future__ import annotations

import pytest

from fti.core.naming import validate_artifact_key, validate_identifier
from fti.errors import ValidationError


@pytest.mark.parametrize("name", ["cards", "_x", "card_activity_7d", "A" * 63])
def test_valid_identifiers(name: str) -> None:
    assert validate_identifier(name) == name


@pytest.mark.parametrize("name", ['x"; DROP TABLE t; --', "1abc", "", "a-b", "a b", "A" * 64, "é"])
def test_hostile_or_odd_identifiers_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="Invalid feature group name"):
        validate_identifier(name, "feature group name")


@pytest.mark.parametrize("key", ["a", "models/m1/model.pkl", "runs/abc/x@1=2+3-4.json"])
def test_valid_keys(key: str) -> None:
    assert validate_artifact_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("../x", "'..' path parts"),
        ("a/../../x", "'..' path parts"),
        ("/abs", "absolute paths"),
        ("a\\b", "backslashes"),
        ("a//b", "empty"),
        ("", "relative path"),
        ("a/b c", "may only contain"),
    ],
)
def test_unsafe_keys_are_rejected_with_reason(key: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        validate_artifact_key(key)
