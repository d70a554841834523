"""Start a real local Ray cluster for tests and benchmarks: a head node and worker nodes, one loopback address each.

Ray rewrites ``127.0.0.1`` to the machine's interface address and its head asks cloud metadata services
where it runs, so the cluster is only started where the network has nothing but loopback (a network
namespace: ``tools/loopback-only.sh``); :func:`loopback_only` says whether that is so. Every node is a
``ray start --block`` process leading its own process group, with its own temporary folder: the cluster is
stopped by killing exactly those groups, never every Ray process of the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RayCluster", "loopback_only", "ray_cluster"]

#: GCS ports inside Ray's default worker-port range (10002-19999) are refused
_GCS_PORTS = range(26379, 26479)


@dataclass(frozen=True, slots=True)
class RayCluster:
    """A running local cluster: connect with ``address``."""

    head_ip: str
    port: int
    nodes: int

    @property
    def address(self) -> str:
        """The head's GCS address (``host:port``), as ``executor.address`` takes it."""
        return f"{self.head_ip}:{self.port}"


def loopback_only() -> bool:
    """Whether this process's network has no interface but loopback (so nothing Ray sends leaves the machine)."""
    try:  # /proc/self/net follows the network namespace (/sys/class/net would need sysfs remounted)
        lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    except OSError:
        return False
    return {line.partition(":")[0].strip() for line in lines} == {"lo"}


def _free_gcs_port(first: int) -> int:
    for port in range(first, _GCS_PORTS.stop):
        with socket.socket() as sock:
            try:  # the GCS listens on every address: the port must be free on all of them
                sock.bind(("", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port for Ray's GCS in {first}-{_GCS_PORTS.stop - 1}.")


def _wait_for_nodes(
    address: str, count: int, timeout: float, processes: list[subprocess.Popen[bytes]], log: Path
) -> None:
    """Block until ``count`` nodes are alive, using the ``ray`` CLI's status (no driver connects here)."""
    ray = str(Path(sys.executable).with_name("ray"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                said = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"A Ray node process exited with code {process.returncode} while starting:\n{said}")
        status = subprocess.run([ray, "status", f"--address={address}"], capture_output=True, text=True, check=False)
        active = status.stdout.partition("Active:")[2].partition("Pending:")[0]
        if status.returncode == 0 and active.count("node_") >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"The Ray cluster at {address} did not have {count} nodes after {timeout} s.")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(20)
    # whatever the node started and left behind (raylet, workers) is in its group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@contextlib.contextmanager
def ray_cluster(
    nodes: int = 2, cpus_per_node: int = 1, timeout: float = 300.0, network: str = "127.0.0"
) -> Iterator[RayCluster]:
    """Run a Ray cluster of ``nodes`` nodes (the head at ``network``.2, the others at .3, ...) for the block.

    Clusters started at once (by parallel test processes) need a ``network`` each (``127.0.1``, ``127.0.2``).

    Raises:
        RuntimeError: the network is not loopback-only (run under ``tools/loopback-only.sh``), or a node failed.
    """
    if not loopback_only():
        raise RuntimeError(
            "A local Ray cluster is only started where the network has nothing but loopback: "
            "run under tools/loopback-only.sh (as `make test` does)."
        )
    ray = str(Path(sys.executable).with_name("ray"))
    head_ip = f"{network}.2"
    # clusters started at once on other networks start their search elsewhere, so they do not race for a port
    port = _free_gcs_port(_GCS_PORTS.start + 10 * int(network.rsplit(".", 1)[-1]))
    scratch = Path(tempfile.mkdtemp(prefix="fti-ray-"))
    environment = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = [f"--num-cpus={cpus_per_node}", "--disable-usage-stats", "--block"]
    processes: list[subprocess.Popen[bytes]] = []
    log = (scratch / "nodes.log").open("wb")  # what the nodes print, shown when one fails to start
    try:
        for index in range(nodes):
            node_ip = f"{network}.{2 + index}"
            role = (
                ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={scratch}"]
                if index == 0
                else [f"--address={head_ip}:{port}"]
            )
            processes.append(
                subprocess.Popen(
                    [ray, "start", *role, f"--node-ip-address={node_ip}", *common],
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            if index == 0:
                _wait_for_nodes(f"{head_ip}:{port}", 1, timeout, processes, scratch / "nodes.log")
        _wait_for_nodes(f"{head_ip}:{port}", nodes, timeout, processes, scratch / "nodes.log")
        yield RayCluster(head_ip, port, nodes)
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)
