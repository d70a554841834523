"""Run tasks on a Ray cluster (``executor: {type: ray, address: ..., resources: ...}``), installed with ``fti[ray]``.

``map`` sends one Ray task per item and gathers the results in input order; the first task that raises
cancels the rest, and its exception is raised here with its type and message, the worker's traceback as
its cause and a note naming the item (the partition) it failed on. A worker process or node lost
mid-job is Ray's to handle: the task is retried on another worker (Ray's ``max_retries``), so the result
is the same. ``submit`` starts the function in a process of its own inside a Ray task (the local
executor's :mod:`~fti.backends.executors.processes`): cancelling the task kills the Ray worker, and the
process, watching its parent, kills its own group with every process it started.

Ray is imported with this module only, so ``import fti`` never imports it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import ray
import ray.exceptions
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from fti.backends.executors.processes import RemoteTracebackError, start_process_task
from fti.backends.settings import parse_backend_config
from fti.errors import BackendError, MissingExtraError

__all__ = ["RayExecutor", "RayExecutorConfig", "RayTask"]

T = TypeVar("T")
R = TypeVar("R")

#: seconds to wait for the cluster's address to accept a connection before calling it unreachable
_CONNECT_TIMEOUT = 5.0


class RayExecutorConfig(BaseModel):
    """Settings of the Ray executor.

    Attributes:
        address: ``auto`` (the cluster this machine belongs to, or ``RAY_ADDRESS``), ``host:port`` (a
            cluster's GCS address) or ``ray://host:port`` (Ray Client, which needs ``ray[client]``).
        max_workers: tasks run at once; default: the cluster's CPUs divided by each task's CPUs.
        resources: what each task asks for: ``CPU``, ``GPU`` and any custom resource of the cluster.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    address: str = "auto"
    max_workers: PositiveInt | None = None
    resources: dict[str, float] = Field(default_factory=lambda: {"CPU": 1.0})

    @field_validator("address")
    @classmethod
    def _address_form(cls, value: str) -> str:
        if value != "auto":
            _host_and_port(value)
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: dict[str, float]) -> dict[str, float]:
        negative = sorted(name for name, amount in value.items() if amount < 0)
        if negative:
            raise ValueError(f"resource amounts must be 0 or more, got {', '.join(negative)} below 0")
        return value


def _host_and_port(address: str) -> tuple[str, int]:
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"'{address}' is not a Ray cluster address: expected 'auto', 'host:port' (the head's GCS port, "
            "e.g. 'ray-head:6379') or 'ray://host:port' (Ray Client, e.g. 'ray://ray-head:10001')"
        )
    return host.strip("[]"), int(port)


def _task_options(resources: Mapping[str, float]) -> dict[str, Any]:
    custom = {name: amount for name, amount in resources.items() if name not in ("CPU", "GPU")}
    options: dict[str, Any] = {"num_cpus": resources.get("CPU", 1.0), "num_gpus": resources.get("GPU", 0.0)}
    if custom:
        options["resources"] = custom
    return options


def _call(function: Callable[[T], R], item: T) -> R:
    """A Ray task of ``map``: ``function(item)`` in the Ray worker."""
    return function(item)


def _call_in_own_process(function: Callable[[T], R], item: T) -> R:
    """A Ray task of ``submit``: ``function(item)`` in a process of its own, which dies with this worker."""
    return start_process_task(function, item).result()


def _reraise(error: ray.exceptions.RayTaskError, note: str | None = None) -> None:
    cause = error.cause
    # ray.get raises a class deriving from both RayTaskError and the cause's class, without traceback_str
    remote = str(getattr(error, "traceback_str", None) or error)
    if isinstance(cause, BaseException) and not isinstance(cause, ray.exceptions.RayError):
        if note:
            cause.add_note(note)
        raise cause from RemoteTracebackError(remote)
    raise BackendError(f"A task failed on the Ray cluster{f' ({note})' if note else ''}: {error}") from error


class RayTask(Generic[R]):
    """The handle of a task started by :meth:`RayExecutor.submit`."""

    def __init__(self, reference: ray.ObjectRef[R]) -> None:
        self._reference = reference
        self._cancelled = False

    def done(self) -> bool:
        """Whether the task ended."""
        if self._cancelled:
            return True
        ready, _ = ray.wait([self._reference], timeout=0)
        return bool(ready)

    def result(self, timeout: float | None = None) -> R:
        """The task's value, or its exception re-raised (with the worker's traceback as its cause)."""
        if self._cancelled:
            raise BackendError("The task was stopped before it finished.")
        try:
            value: R = ray.get(self._reference, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise TimeoutError(f"The task did not finish within {timeout} s.") from None
        except ray.exceptions.TaskCancelledError as exc:
            raise BackendError("The task was stopped before it finished.") from exc
        except ray.exceptions.RayTaskError as exc:
            _reraise(exc)
            raise  # pragma: no cover - _reraise always raises
        except ray.exceptions.RayError as exc:
            raise BackendError(f"The task's Ray worker failed before it returned: {exc}") from exc
        return value

    def cancel(self) -> None:
        """Kill the task's Ray worker (and so its process group); idempotent."""
        if self._cancelled:
            return
        self._cancelled = True
        if not ray.wait([self._reference], timeout=0)[0]:
            ray.cancel(self._reference, force=True)


class RayExecutor:
    """Tasks on a Ray cluster: connects on ``open``, disconnects on ``close`` (when it made the connection)."""

    def __init__(self, config: RayExecutorConfig) -> None:
        self.config = config
        self._connected = False
        self._owns_connection = False

    @classmethod
    def config_from(cls, options: Mapping[str, Any]) -> RayExecutorConfig:
        """Validate this backend's options."""
        return parse_backend_config(RayExecutorConfig, options, "executor")

    @property
    def workers(self) -> int:
        """Tasks that run at once: ``max_workers``, or the cluster's CPUs over each task's CPUs."""
        if self.config.max_workers:
            return self.config.max_workers
        self._require_open()
        cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
        per_task = self.config.resources.get("CPU", 1.0)
        return max(1, int(cpus // per_task) if per_task else int(cpus))

    @property
    def is_cluster(self) -> bool:
        """Ray tasks run on the cluster's nodes."""
        return True

    def open(self) -> None:
        """Connect to the cluster (once per process: an existing connection is reused)."""
        if self._connected:
            return
        address = self.config.address
        if address != "auto":
            _check_reachable(address)
        if ray.is_initialized():
            connected_to = ray.get_runtime_context().gcs_address
            if address not in ("auto", connected_to):
                raise BackendError(
                    f"This process is connected to the Ray cluster at '{connected_to}', not executor.address "
                    f"'{address}': a process talks to one Ray cluster at a time."
                )
        else:
            self._connect()
            self._owns_connection = True
        self._connected = True

    def close(self) -> None:
        """Disconnect, when this executor connected; the cluster keeps running."""
        if self._connected and self._owns_connection and ray.is_initialized():
            ray.shutdown()
        self._connected = self._owns_connection = False

    def ping(self) -> None:
        """Check that the cluster has at least one live node."""
        self._require_open()
        if not any(node.get("Alive") for node in ray.nodes()):  # type: ignore[no-untyped-call]
            raise BackendError(f"The Ray cluster at '{self.config.address}' has no live node.")

    def describe(self) -> str:
        """The cluster's address and size."""
        if not self._connected:
            return f"Ray cluster at {self.config.address}"
        alive = sum(1 for node in ray.nodes() if node.get("Alive"))  # type: ignore[no-untyped-call,misc]
        return f"Ray cluster at {self.config.address}: {alive} nodes, {self.workers} workers"

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``function`` to every item, one Ray task each; results in input order.

        The first task that raises makes ``map`` raise its exception (with a note naming the item's index),
        after cancelling the rest.
        """
        self._require_open()
        remote: Any = ray.remote(_call).options(**_task_options(self.config.resources), max_retries=3)
        references = [remote.remote(function, item) for item in items]
        index_of = {reference: index for index, reference in enumerate(references)}
        results: list[Any] = [None] * len(references)
        pending = list(references)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for reference in ready:
                try:
                    results[index_of[reference]] = ray.get(reference)
                except ray.exceptions.RayError as exc:
                    for other in pending:
                        ray.cancel(other, force=True)
                    note = f"task {index_of[reference]} of {len(items)} on the Ray cluster"
                    if isinstance(exc, ray.exceptions.RayTaskError):
                        _reraise(exc, note)
                    raise BackendError(f"The Ray cluster lost {note}: {exc}") from exc
        return results

    def submit(self, function: Callable[[T], R], item: T) -> RayTask[R]:
        """Start ``function(item)`` in a process of its own inside a Ray task and return at once."""
        self._require_open()
        remote: Any = ray.remote(_call_in_own_process).options(**_task_options(self.config.resources), max_retries=0)
        return RayTask(remote.remote(function, item))

    def _require_open(self) -> None:
        if not self._connected:
            raise BackendError("The Ray executor is not open: call open() first.")

    def _connect(self) -> None:
        address = self.config.address
        options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address != "auto":
            host, _ = _host_and_port(address)
            if not address.startswith("ray://") and _is_loopback(host):
                # the driver is on the head's machine: Ray would otherwise pick the interface address
                options["_node_ip_address"] = host
        try:
            ray.init(address=address, **options)
        except ModuleNotFoundError as exc:
            raise MissingExtraError(
                f"executor.address '{address}' uses the Ray Client, which needs Ray's 'client' extra: "
                "pip install 'ray[client]'"
            ) from exc
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BackendError(f"Could not connect to the Ray cluster at executor.address '{address}': {exc}") from exc


def _check_reachable(address: str) -> None:
    host, port = _host_and_port(address)
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise BackendError(
            f"No Ray cluster answers at executor.address '{address}' ({exc}): start the cluster "
            "(`ray start --head`), or fix the address (the head's GCS port, 6379 by default)."
        ) from exc


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
