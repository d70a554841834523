"""Docstring → code pairs from Python's own standard library: a text task that is always on disk.

Every function with a docstring gives one pair: the prompt is ``# Task: <the docstring's first
paragraph>`` and a newline, the response is the function without its docstring and decorators, as
``ast.unparse`` writes it (one formatting, which helps BLEU). The files are taken in a fixed
pseudo-random order (by the md5 of their path), so a given ``limit`` always reads the same files.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import sysconfig
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

__all__ = ["PROMPT_PREFIX", "code_pairs", "pretraining_text", "stdlib_files"]

PROMPT_PREFIX = "# Task: "
_SKIPPED = frozenset({"test", "tests", "idlelib", "lib2to3", "ensurepip", "site-packages", "turtledemo"})
_EVENT_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def stdlib_files(limit: int | None = None) -> list[Path]:
    """The standard library's ``.py`` files (tests, IDLE and vendored packages left out), ``limit`` of them."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found = [
        path
        for path in root.rglob("*.py")
        if not _SKIPPED.intersection(path.relative_to(root).parts) and "__pycache__" not in path.parts
    ]
    found.sort(key=lambda path: hashlib.md5(path.relative_to(root).as_posix().encode()).hexdigest())
    return found[:limit] if limit is not None else found


def _doc_summary(node: ast.AST) -> str | None:
    doc = ast.get_docstring(node)  # type: ignore[arg-type]
    if not doc:
        return None
    summary = " ".join(doc.strip().split("\n\n")[0].split())
    return summary if 10 <= len(summary) <= 160 else None


def _without_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    bare = copy.deepcopy(node)
    bare.decorator_list = []
    bare.body = bare.body[1:] or [ast.Pass()]
    return ast.unparse(bare)


def code_pairs(files: Sequence[Path], *, max_code_chars: int = 250) -> pd.DataFrame:
    """One row per documented function: ``pair_id``, ``file``, ``function``, ``prompt``, ``response``, ``ts``.

    Args:
        files: Python source files (see :func:`stdlib_files`).
        max_code_chars: functions longer than this (without their docstring) are left out.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    records = []
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            summary = _doc_summary(node)
            if summary is None:
                continue
            code = _without_docstring(node)
            if len(code) <= max_code_chars:
                records.append((name, node.name, f"{PROMPT_PREFIX}{summary}\n", code))
    frame = pd.DataFrame(records, columns=["file", "function", "prompt", "response"])
    frame.insert(0, "pair_id", range(len(frame)))
    frame["ts"] = pd.Timestamp(_EVENT_TIME)
    return frame


def pretraining_text(files: Sequence[Path], *, skip: frozenset[str] = frozenset()) -> str:
    """The files' text joined, leaving out those whose stdlib-relative path is in ``skip``."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for path in files:
        if path.relative_to(root).as_posix() in skip:
            continue
        try:
            parts.append(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
    return "\n\n".join(parts)
