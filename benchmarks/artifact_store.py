"""Artifact store throughput: checksummed writes and verified reads through the ArtifactService.

Prints MB/s for many small artifacts and one large one, on the embedded local folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import fti


def measure(project: fti.Project, count: int, size: int) -> tuple[float, float]:
    payload = os.urandom(size)
    start = time.perf_counter()
    for index in range(count):
        project.artifacts.put_bytes(f"bench/{size}/{index}", payload)
    written = time.perf_counter() - start
    start = time.perf_counter()
    for index in range(count):
        project.artifacts.get_bytes(f"bench/{size}/{index}")
    read = time.perf_counter() - start
    megabytes = count * size / 1e6
    return megabytes / written, megabytes / read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    cases = [(100, 64 << 10), (1, 64 << 20)] if args.quick else [(500, 64 << 10), (2, 256 << 20)]
    table = Table("artifacts", "size each", "write MB/s", "verified read MB/s", title="Artifact store (local)")
    with tempfile.TemporaryDirectory() as folder, fti.connect(Path(folder)) as project:
        for count, size in cases:
            write, read = measure(project, count, size)
            table.add_row(str(count), f"{size >> 10} KiB", f"{write:,.0f}", f"{read:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
