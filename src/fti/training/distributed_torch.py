"""Data-parallel training of the PyTorch MLP on an executor's workers: DistributedDataParallel, gloo on CPU.

With the MLP's ``workers`` param above 1, :func:`fti.training.train` fits it here. Each of ``workers``
executor tasks (Ray tasks on a cluster, processes with the local executor) receives its shard of the
preprocessed training rows (every ``workers``-th row, starting at its rank) and the whole validation split,
joins one process group (gloo; the rendezvous is a TCP store served by the calling process), builds the
network from the same seed and trains it wrapped in DistributedDataParallel: each step's gradients are
averaged over the replicas, so all hold the same weights. A shard with fewer batches than the others
shadows their steps (DDP's join). Every replica measures the validation loss on the whole validation split
with the same weights, so all stop early at the same epoch. The first replica returns its weights and
per-epoch losses; the calling process loads them into the estimator, which is then fitted like a locally
trained one (same class, pickled, registered, loaded and predicting alike) and logs the losses to the run.

Each replica's mini-batches have ``batch_size`` rows, so one step sees ``workers * batch_size`` rows. All
replicas must run at once: the executor needs at least ``workers`` workers.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from fti.errors import ValidationError
from fti.training.torch_trainer import import_torch

if TYPE_CHECKING:
    from fti.backends.ports import Executor
    from fti.training.ports import RunLogger

__all__ = ["fit_distributed"]

#: how long a replica waits for the others to join the process group
_RENDEZVOUS_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _Replica:
    """One executor task: replica ``rank`` of ``world``, its shard, and where the process group meets."""

    estimator: Any
    rank: int
    world: int
    host: str
    port: int
    features: np.ndarray[Any, Any]
    target: np.ndarray[Any, Any]
    validation: tuple[Any, Any] | None


def fit_distributed(
    estimator: Any,
    features: Any,
    y: Any,
    validation: tuple[Any, Any] | None,
    executor: Executor,
    logger: RunLogger,
) -> list[dict[str, float]]:
    """Fit the MLP ``estimator`` data-parallel on ``estimator.workers`` tasks of ``executor``; the per-epoch losses.

    Raises:
        ValidationError: the executor runs fewer tasks at once than the MLP has workers.
    """
    torch = import_torch()
    world = int(estimator.workers)
    if executor.workers < world:
        raise ValidationError(
            f"The MLP trains on workers={world} replicas at once, but the executor ({executor.describe()}) runs "
            f"{executor.workers} task(s) at once: lower workers, or give the executor more workers."
        )
    rows = np.asarray(features, dtype=np.float32)
    target = np.asarray(y)
    estimator.prepare_target(target)  # classes or target scale from the whole target, not a shard's
    host = _own_address()
    store = torch.distributed.TCPStore(host, 0, None, True, _RENDEZVOUS_TIMEOUT, wait_for_workers=False)
    replicas = [
        _Replica(estimator, rank, world, host, int(store.port), rows[rank::world], target[rank::world], validation)
        for rank in range(world)
    ]
    history, state = executor.map(_train_replica, replicas)[0]
    assert state is not None  # the first replica returns its weights
    estimator.load_network(state, rows.shape[1], len(history))
    for epoch, record in enumerate(history):
        logger.log_metrics(record, step=epoch)
    return history


def _train_replica(replica: _Replica) -> tuple[list[dict[str, float]], dict[str, Any] | None]:
    """An executor task: train one replica in the process group; the first returns its weights."""
    torch = import_torch()
    distributed = torch.distributed
    store = distributed.TCPStore(replica.host, replica.port, None, False, _RENDEZVOUS_TIMEOUT)
    distributed.init_process_group("gloo", store=store, rank=replica.rank, world_size=replica.world)
    try:
        estimator = replica.estimator
        estimator.progress = False
        history: list[dict[str, float]] = estimator.fit_replica(
            replica.features,
            replica.target,
            validation=replica.validation,
            wrap=torch.nn.parallel.DistributedDataParallel,
        )
        state = estimator.network_.state_dict() if replica.rank == 0 else None
    finally:
        distributed.destroy_process_group()
    return history, state


def _own_address() -> str:
    """This machine's address as its host name resolves, where that is one of its interfaces; else loopback
    (a machine whose name resolves elsewhere, or a network with nothing but loopback)."""
    try:
        address = socket.gethostbyname(socket.gethostname())
        with socket.socket() as probe:
            probe.bind((address, 0))
    except OSError:
        return "127.0.0.1"
    return address
