"""Artifact stores: a local folder (embedded default) and any S3 API."""
