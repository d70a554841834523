"""The commented ``fti.yaml`` that ``fti init`` writes."""

from __future__ import annotations

__all__ = ["render_config_template"]

_TEMPLATE = """\
# FTI Stack project configuration.
# Every key is optional; the values below are the embedded defaults (everything under ./.fti/).
# Relative paths are relative to this file's folder. Any key can be overridden by an environment
# variable FTI_<SECTION>_<KEY>, for example FTI_CATALOG_URL or FTI_ONLINE_STORE_TYPE.
# Secrets (database passwords, S3 keys) belong in the environment, never in this file.

# The project's name, shown by `fti status` and the dashboard.
project: {project}

catalog:
  # Metadata, lineage, runs and the model registry: a SQLAlchemy URL.
  # Embedded: sqlite:///.fti/catalog.db   Scale-out: postgresql://user@host:5432/fti
  url: sqlite:///.fti/catalog.db

offline_store:
  # Feature data, training datasets and inference logs (Delta Lake tables).
  # A folder, or s3://bucket/prefix for any S3 API.
  uri: .fti/offline
  # For an S3 API other than AWS (MinIO, moto), its URL, e.g. http://127.0.0.1:9000
  endpoint_url: null
  # The S3 region, if the server needs one.
  region: null

online_store:
  # Latest feature values per key for low-latency serving: sqlite or redis.
  type: sqlite
  # The SQLite database file (type: sqlite).
  path: .fti/online.db
  # The Redis URL (type: redis), e.g. redis://127.0.0.1:6379/0
  url: null

artifact_store:
  # Models, reports and plots: a folder, or s3://bucket/prefix for any S3 API.
  uri: .fti/artifacts
  # For an S3 API other than AWS, its URL.
  endpoint_url: null
  # The S3 region, if the server needs one.
  region: null

executor:
  # Where tuning trials and batch predictions run in parallel: local (worker processes), or ray (a Ray
  # cluster, pip install 'fti[ray]': add address: auto | host:port | ray://host:port, resources: {{CPU: 1}}).
  type: local
  # Parallel worker processes (default: the number of CPU cores).
  max_workers: null

serving:
  # `fti serve`: where to listen and how many worker processes.
  host: 127.0.0.1
  port: 8080
  workers: 1
  # Larger request bodies get 413.
  max_body_bytes: 4194304
  # Requests a worker handles at once; more get 429 with Retry-After.
  max_concurrent_requests: 1024
  # Ask for `Authorization: Bearer <token>` (tokens from `fti tokens create`); 401 without one.
  require_tokens: false
  # Micro-batch concurrent requests per model (see docs/serving.md): requests that queue while the model
  # is busy are predicted together; a positive batch_max_wait_ms also waits that long for company.
  batching: true
  batch_max_rows: 256
  batch_max_wait_ms: 0.0
  # The request log: rows per write to the inference_log table, seconds between writes, queue limit.
  log_batch_rows: 1000
  log_flush_seconds: 1.0
  log_max_queue_rows: 100000
  # How often deployments and aliases are checked for changes (hot swap), in seconds.
  refresh_seconds: 5.0
  # Seed of random variant assignment for requests without entity keys (null: unseeded).
  seed: null
  # The deployment behind /invocations when there are several.
  invocations_deployment: null

features:
  # An insert compacts a feature group's small files into large ones once it has this many (null: never).
  compact_after: 64

# Modules defining pipelines (@fti.pipeline): dotted module names or .py files relative to this folder.
pipelines: []

scheduler:
  # `fti scheduler`: seconds between looks for due schedules and new events.
  poll_interval: 0.5
  # A run whose scheduler stops renewing its lease this long is marked lost and retried.
  lease_seconds: 30.0
  # Pipeline runs one scheduler runs at once.
  max_runs: 4
"""


def render_config_template(project: str) -> str:
    """The full commented configuration for a new project called ``project``."""
    return _TEMPLATE.format(project=project)
