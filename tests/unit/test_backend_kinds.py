"""The backend kind table: every entry is a backend factory that exists; unknown kinds are named."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from fti.backends.kinds import BACKENDS, ROLES, create_backend, known_kinds
from fti.config import load_config
from fti.errors import ValidationError


@pytest.mark.parametrize(("role", "kind"), [(role, kind) for role in ROLES for kind in BACKENDS[role]])
def test_every_kind_names_a_class_with_config_from(role: str, kind: str) -> None:
    module_name, _, class_name = BACKENDS[role][kind].partition(":")
    factory = getattr(importlib.import_module(module_name), class_name)

    assert callable(factory) and callable(factory.config_from)


def test_local_processes_and_ray_are_the_executors() -> None:
    assert known_kinds("executor") == ["local", "ray"]


def test_an_unknown_executor_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"Unknown executor backend 'spark': expected one of local, ray\."):
        create_backend("executor", "spark", {})
    (tmp_path / "fti.yaml").write_text("executor:\n  type: spark\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"executor.type = 'spark': unknown backend 'spark'; expected one of"):
        load_config(tmp_path, env={})


def test_a_backend_config_error_names_the_role_and_key() -> None:
    with pytest.raises(ValidationError, match=r"executor.max_workers"):
        create_backend("executor", "local", {"max_workers": 0})
