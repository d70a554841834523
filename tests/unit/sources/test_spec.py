"""Sources written as text: paths, globs, URLs and YAML files."""

from __future__ import annotations

from pathlib import Path

import pytest

from fti.errors import NotFoundError, ValidationError
from fti.sources import open_source
from fti.sources.spec import load_spec


def test_paths_urls_and_tables() -> None:
    assert open_source("data/*.csv").info.kind == "csv"
    assert open_source("s3://bucket/events/*.parquet").info.location == "s3://bucket/events/*.parquet"
    source = open_source("postgresql://app:secret@db:5432/shop/orders?cursor=id")
    assert source.info.kind == "sql"
    assert source.info.location == "postgresql://app:***@db:5432/shop table orders"
    assert "secret" not in source.info.name
    assert open_source("sqlite:///shop.db?table=orders").info.location == "sqlite:///shop.db table orders"
    assert open_source("https://api.example.com/v1/orders").info.kind == "http"
    with pytest.raises(ValidationError, match=r"names no table: use postgresql://user@host/db/table"):
        open_source("postgresql://app@db/shop")


def test_a_yaml_spec_with_options_relative_to_its_file(tmp_path: Path) -> None:
    spec = tmp_path / "orders.yaml"
    spec.write_text(
        "kind: csv\npath: data/*.csv\ndelimiter: ';'\nnull_values: ['', n/a]\n"
        "ingest:\n  rename: {monthly spend: spend}\n  parse_dates: [ts]\n"
    )
    loaded = load_spec(str(spec))
    assert loaded.ingest.rename == {"monthly spend": "spend"} and loaded.ingest.parse_dates == ["ts"]
    assert loaded.build().info.location == str(tmp_path / "data" / "*.csv")


def test_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"Source spec .*nope\.yaml does not exist"):
        load_spec(str(tmp_path / "nope.yaml"))
    spec = tmp_path / "bad.yaml"
    spec.write_text("kind: ftp\npath: x\n")
    with pytest.raises(ValidationError, match=r"Invalid source spec .*bad\.yaml: kind = 'ftp'"):
        load_spec(str(spec))
    spec.write_text("kind: sql\ntable: t\n")
    with pytest.raises(ValidationError, match=r"A sql source needs url:"):
        load_spec(str(spec)).build()
