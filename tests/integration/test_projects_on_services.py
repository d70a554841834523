"""A whole project on scale-out backends: PostgreSQL catalog and S3 artifacts, configured by fti.yaml."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

import fti
from fti.errors import IntegrityError
from fti.project import check_backends


@pytest.mark.integration
def test_project_on_postgresql_and_s3(tmp_path: Path, postgres_url: str, s3_endpoint: str, s3_bucket: str) -> None:
    (tmp_path / "fti.yaml").write_text(
        f"project: scaled\ncatalog:\n  url: {postgres_url}\n"
        f"artifact_store:\n  uri: s3://{s3_bucket}/team\n  endpoint_url: {s3_endpoint}\n"
    )
    with fti.connect(tmp_path) as project:
        project.artifacts.put_bytes("models/m.bin", b"weights")
        assert project.artifacts.get_bytes("models/m.bin") == b"weights"
        statuses = {item.role: item for item in project.status()}
        assert statuses["catalog"].is_reachable
        assert statuses["artifact_store"].is_reachable
        assert statuses["artifact_store"].location == f"s3://{s3_bucket}/team at {s3_endpoint}"
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
        s3.put_object(Bucket=s3_bucket, Key="team/models/m.bin", Body=b"tampered")
        with pytest.raises(IntegrityError, match="'models/m.bin'"):
            project.artifacts.get_bytes("models/m.bin")


@pytest.mark.integration
def test_unreachable_catalog_is_reported(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("catalog:\n  url: postgresql://nobody@127.0.0.1:1/none\n")
    statuses = {item.role: item for item in check_backends(fti.load_config(tmp_path))}
    assert not statuses["catalog"].is_reachable
    assert "unreachable" in statuses["catalog"].detail
