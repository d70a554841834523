"""Artifacts in any S3 API (AWS, MinIO, moto's server); an object appears only once fully uploaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from fti.backends.settings import parse_backend_config
from fti.core.naming import validate_artifact_key
from fti.errors import BackendError, MissingExtraError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3ArtifactConfig", "S3ArtifactStore"]


class S3ArtifactConfig(BaseModel):
    """Settings of the S3 artifact store. Credentials come from the environment (AWS_* variables)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None


class S3ArtifactStore:
    """Artifact store on an S3 bucket under a key prefix."""

    def __init__(self, config: S3ArtifactConfig) -> None:
        self.config = config
        self._client: S3Client | None = None

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> S3ArtifactConfig:
        """Validate options; ``uri`` is ``s3://bucket/prefix``."""
        options = dict(options)
        uri = str(options.pop("uri", ""))
        if uri:
            if not uri.startswith("s3://") or not uri[5:].split("/")[0]:
                raise ValidationError(f"Invalid artifact_store.uri {uri!r}: expected s3://bucket/prefix.")
            bucket, _, prefix = uri[5:].partition("/")
            options.update(bucket=bucket, prefix=prefix.strip("/"))
        return parse_backend_config(S3ArtifactConfig, options, "artifact_store")

    def open(self) -> None:
        """Create the client (boto3 reads credentials from the environment)."""
        if self._client is not None:
            return
        try:
            import boto3
            from botocore.config import Config
        except ModuleNotFoundError as exc:
            raise MissingExtraError.for_backend("s3", "s3") from exc
        self._client = boto3.client(
            "s3",
            endpoint_url=self.config.endpoint_url,
            region_name=self.config.region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5),
        )

    def close(self) -> None:
        """Close the client's connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def ping(self) -> None:
        """Check the bucket is reachable."""
        self._call("reach the bucket", lambda client: client.head_bucket(Bucket=self.config.bucket))

    def describe(self) -> str:
        """The s3:// URI and the endpoint, if any."""
        where = f"s3://{self.config.bucket}/{self.config.prefix}".rstrip("/")
        return f"{where} at {self.config.endpoint_url}" if self.config.endpoint_url else where

    def put_bytes(self, key: str, data: bytes) -> None:
        """One PUT: S3 makes the object visible only when complete."""
        name = self._name(key)
        self._call(f"write '{key}'", lambda client: client.put_object(Bucket=self.config.bucket, Key=name, Body=data))

    def put_file(self, key: str, path: Path) -> None:
        """Upload (multipart for large files; the object appears when the upload completes)."""
        name = self._name(key)
        if not Path(path).is_file():
            raise NotFoundError(f"Cannot read {path} to store it as artifact '{key}': no such file.")
        self._call(f"write '{key}'", lambda client: client.upload_file(str(path), self.config.bucket, name))

    def get_bytes(self, key: str) -> bytes:
        """Download the whole object."""
        name = self._name(key)
        response = self._call(
            f"read '{key}'", lambda client: client.get_object(Bucket=self.config.bucket, Key=name), key
        )
        body: bytes = response["Body"].read()
        return body

    def get_file(self, key: str, path: Path) -> None:
        """Download the object to ``path``."""
        name = self._name(key)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._call(f"read '{key}'", lambda client: client.download_file(self.config.bucket, name, str(path)), key)

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        name = self._name(key)
        try:
            self._call(f"check '{key}'", lambda client: client.head_object(Bucket=self.config.bucket, Key=name), key)
        except NotFoundError:
            return False
        return True

    def list_keys(self, prefix: str = "") -> list[str]:
        """List keys under the store's prefix, paginated."""
        base = self._base()
        keys: list[str] = []

        def collect(client: S3Client) -> None:
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=base + prefix
            ):
                keys.extend(item["Key"][len(base) :] for item in page.get("Contents", []))

        self._call("list artifacts", collect)
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Delete the object (S3 ignores missing keys)."""
        name = self._name(key)
        self._call(f"delete '{key}'", lambda client: client.delete_object(Bucket=self.config.bucket, Key=name))

    def _base(self) -> str:
        return f"{self.config.prefix}/" if self.config.prefix else ""

    def _name(self, key: str) -> str:
        return self._base() + validate_artifact_key(key)

    def _call(self, action: str, operation: Any, key: str | None = None) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            raise BackendError("The S3 artifact store is not open: call open() first.")
        try:
            return operation(self._client)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if key is not None and code in ("404", "NoSuchKey", "NotFound"):
                raise NotFoundError(f"Artifact '{key}' does not exist in {self.describe()}.") from None
            raise BackendError(f"S3 artifact store {self.describe()} could not {action}: {code} {exc}") from exc
        except BotoCoreError as exc:
            raise BackendError(f"S3 artifact store {self.describe()} could not {action}: {exc}") from exc
