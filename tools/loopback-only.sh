#!/usr/bin/env bash
# Run a command in a network namespace that has only loopback, so nothing it starts (Ray, PostgreSQL, Redis, the
# S3 API server, Chromium, peers' telemetry) can reach beyond this machine. Where namespaces are not allowed
# (not root, or a container without the capability), the command runs as it is, with telemetry switched off.
set -euo pipefail

export DO_NOT_TRACK=true MLFLOW_DISABLE_TELEMETRY=true FEAST_USAGE=False BENTOML_DO_NOT_TRACK=true
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 AWS_EC2_METADATA_DISABLED=true RAY_USAGE_STATS_ENABLED=0

if unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
if [ "${LOOPBACK_ONLY_REQUIRED:-0}" = 1 ]; then
  echo "error: a network namespace with only loopback is required (LOOPBACK_ONLY_REQUIRED=1) but unshare -n" \
    "is not allowed here: run as root, or in a container with CAP_SYS_ADMIN" >&2
  exit 2
fi
echo "note: network namespaces are not available here; running without network isolation" >&2
exec "$@"
