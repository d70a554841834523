"""Building the online stores from project settings, and their configuration errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fti.backends.kinds import create_backend
from fti.backends.online.redis import RedisOnlineStore
from fti.backends.online.sqlite import SqliteOnlineStore
from fti.config import load_config
from fti.errors import BackendError, MissingExtraError, ValidationError


def test_default_settings_build_the_sqlite_store_under_the_project(tmp_path: Path) -> None:
    kind, options = load_config(tmp_path, env={}).backend("online_store")
    store = create_backend("online_store", kind, options)
    assert isinstance(store, SqliteOnlineStore)
    assert store.describe() == str(tmp_path.resolve() / ".fti" / "online.db")


def test_redis_settings_ignore_the_sqlite_path(tmp_path: Path) -> None:
    loaded = load_config(
        tmp_path, env={"FTI_ONLINE_STORE_TYPE": "redis", "FTI_ONLINE_STORE_URL": "redis://:secret@host:6380/2"}
    )
    kind, options = loaded.backend("online_store")
    assert "path" in options
    store = create_backend("online_store", kind, options)
    assert isinstance(store, RedisOnlineStore)
    assert store.describe() == "redis://host:6380/2 (keys fti:*)"


def test_sqlite_ignores_a_url(tmp_path: Path) -> None:
    store = create_backend("online_store", "sqlite", {"path": str(tmp_path / "o.db"), "url": "redis://x"})
    assert store.describe().endswith("o.db")


def test_bad_options_name_the_setting() -> None:
    with pytest.raises(ValidationError, match=r"online_store\.key_prefix = 'a b\*': use 1 to 64 letters, digits"):
        create_backend("online_store", "redis", {"url": "redis://localhost", "key_prefix": "a b*"})
    with pytest.raises(ValidationError, match=r"online_store\.url: a required key is missing"):
        create_backend("online_store", "redis", {})


def test_missing_redis_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    store = create_backend("online_store", "redis", {"url": "redis://localhost"})
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingExtraError, match=r"Backend 'redis' needs the 'redis' extra: pip install 'fti\[redis\]'"):
        store.open()


def test_stores_must_be_opened_first(tmp_path: Path) -> None:
    sqlite = create_backend("online_store", "sqlite", {"path": str(tmp_path / "o.db")})
    with pytest.raises(BackendError, match=r"The SQLite online store is not open: call open\(\) first"):
        sqlite.ping()
    redis_store = create_backend("online_store", "redis", {"url": "redis://localhost"})
    with pytest.raises(BackendError, match=r"The Redis online store is not open: call open\(\) first"):
        redis_store.ping()


def test_unreachable_redis_is_a_backend_error() -> None:
    from fti.testing.services import free_port

    store = create_backend("online_store", "redis", {"url": f"redis://127.0.0.1:{free_port()}/0"})
    store.open()
    try:
        with pytest.raises(BackendError, match="could not reach the server"):
            store.ping()
    finally:
        store.close()


def test_unwritable_sqlite_path_is_a_backend_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = create_backend("online_store", "sqlite", {"path": str(blocker / "online.db")})
    with pytest.raises(BackendError, match="cannot be opened"):
        store.open()
