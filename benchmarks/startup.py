"""Start-up cost: wall and CPU seconds of fresh-process calls, imports included.

Each probe is a new interpreter, timed from outside (its wall time, and the CPU seconds of the process and its
threads), best of ``--repeats``:

- ``python -c pass``: the interpreter alone, the floor every probe stands on;
- ``import fti``;
- ``fti --help``: the CLI's entry point with every command registered;
- ``fti status``-like: open a project and count what its catalog holds;
- a monitoring check from Python: ``fti.connect`` and ``project.monitor`` over ``--rows`` logged rows x 20
  features against a stored reference profile (the CLI reads the model's; a given profile keeps the probe free
  of a trained model);
- the same check as ``fti monitor check`` runs it, after the CLI's imports.

``--against REV`` runs the same probes on the source tree of git revision ``REV`` too (exported with
``git archive``, put first on ``PYTHONPATH``), side by side in the same run: the reference for a change's
effect on a loaded machine. Its monitoring probe reads the project this tree writes, so REV must read the
same log format.

Measured before imports were made lazy (2 cores, best of 3): ``import fti`` 1.47 s wall / 1.41 s CPU,
``fti --help`` 4.34 s / 4.21 s (``fti demo`` imported sklearn, scipy and matplotlib at start).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

import fti
from monitor_check import DEPLOYMENT, log_rows, reference_profile

ROOT = Path(__file__).resolve().parents[1]
#: wall-second targets of the probes that have one
TARGETS = {"import fti": 0.2, "fti --help": 0.6, "fti status-like": 1.0, "fti monitor check-like": 2.0}
_STATUS = """
import sys
import fti
with fti.connect(sys.argv[1]) as project:
    project.object_counts()
"""
_CHECK = """
import json, sys
import fti
from fti.monitoring.stats.reference import ReferenceProfile
with fti.connect(sys.argv[1]) as project:
    with open(sys.argv[2]) as file:
        profile = ReferenceProfile.from_dict(json.load(file))
    project.monitor(sys.argv[3], profile)
"""


def child_cpu() -> float:
    """CPU seconds (user and system) of the children this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def probe(command: Sequence[str], environment: dict[str, str], repeats: int) -> tuple[float, float]:
    """Best wall and best CPU seconds of ``repeats`` runs of ``command`` in a new process."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), child_cpu()
        subprocess.run(command, env=environment, check=True, capture_output=True)
        wall = min(wall, time.perf_counter() - began)
        cpu = min(cpu, child_cpu() - began_cpu)
    return wall, cpu


def commands(folder: str, profile_path: str) -> dict[str, list[str]]:
    """The probes by name."""
    python = sys.executable
    return {
        "python -c pass": [python, "-c", "pass"],
        "import fti": [python, "-c", "import fti"],
        "fti --help": [python, "-m", "fti", "--help"],
        "fti status-like": [python, "-c", _STATUS, folder],
        "project.monitor": [python, "-c", _CHECK, folder, profile_path, DEPLOYMENT],
        # what `fti monitor check` imports before it runs
        "fti monitor check-like": [python, "-c", "import fti.cli.main\n" + _CHECK, folder, profile_path, DEPLOYMENT],
    }


def exported(revision: str, into: str) -> str:
    """The ``src`` folder of ``revision``, exported under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", into], input=archive.stdout, check=True)
    return os.path.join(into, "src")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--rows", type=int, default=20_000, help="logged rows the monitoring probe checks")
    parser.add_argument("--against", metavar="REV", help="also run the probes on this git revision's source tree")
    arguments = parser.parse_args()
    console = Console(width=max(Console().width, 110))
    with tempfile.TemporaryDirectory() as folder:
        project_folder = os.path.join(folder, "project")
        os.mkdir(project_folder)
        profile_path = os.path.join(folder, "reference.json")
        with fti.connect(project_folder) as project:
            log_rows(project, arguments.rows)
        with open(profile_path, "w") as file:
            json.dump(reference_profile(max(arguments.rows // 4, 1_000)).to_dict(), file)
        trees = {"this tree": os.environ.copy()}
        if arguments.against:
            source = exported(arguments.against, folder)
            trees[arguments.against] = {**os.environ, "PYTHONPATH": source}
        probes = commands(project_folder, profile_path)
        figures = {
            tree: {name: probe(command, environment, arguments.repeats) for name, command in probes.items()}
            for tree, environment in trees.items()
        }

    table = Table(title=f"Fresh-process calls, imports included (best of {arguments.repeats}, {os.cpu_count()} cores)")
    table.add_column("call")
    for tree in figures:
        table.add_column(f"{tree}: wall s", justify="right")
        table.add_column(f"{tree}: CPU s", justify="right")
    table.add_column("target (wall)", justify="right")
    for name in probes:
        cells = [f"{value:.2f}" for tree in figures for value in figures[tree][name]]
        target = TARGETS.get(name)
        table.add_row(name, *cells, f"< {target:g} s" if target else "")
    console.print(table)
    console.print(f"The monitoring probe checks {arguments.rows:,} logged rows x 20 features.")
    ours = figures["this tree"]
    for name, target in TARGETS.items():
        wall = ours[name][0]
        console.print(f"{name}: {wall:.2f} s wall, target under {target:g} s: {'met' if wall < target else 'NOT met'}.")


if __name__ == "__main__":
    main()
