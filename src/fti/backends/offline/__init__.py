"""Offline store backends: Delta Lake tables on a local folder or an S3 bucket."""
