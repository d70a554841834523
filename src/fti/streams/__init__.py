"""Streaming feature pipelines: the window engine, stream jobs, and publishing events to a stream."""

from __future__ import annotations

from fti.streams.engine import BatchResult, WindowEngine

__all__ = ["BatchResult", "WindowEngine"]
