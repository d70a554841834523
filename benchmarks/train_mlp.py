"""Samples per second of the MLP trainer against a plain PyTorch loop over the same tensors.

Both train the same network (two ReLU layers of 64) with Adam and BCE-with-logits on the same float32
tensors, drawing shuffled mini-batches from one permutation per epoch. The trainer adds what a run needs
(a progress bar, per-epoch loss, logging); the target is to stay within 1.2x of the plain loop.

    python benchmarks/train_mlp.py            # 1,000,000 rows x 20 features, 2 epochs
    python benchmarks/train_mlp.py --quick    # 100,000 rows, 1 epoch
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from fti.training.torch_trainer import TorchMLPClassifier


def _data(rows: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    weights = rng.standard_normal(features).astype(np.float32)
    y = (X @ weights + 0.5 * rng.standard_normal(rows).astype(np.float32) > 0).astype(np.int64)
    return X, y


def _plain_loop(X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int) -> float:
    """The reference: the loop one writes by hand, over tensors made once."""
    start = time.perf_counter()
    torch.manual_seed(0)
    features = torch.from_numpy(X)
    target = torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
    network = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for rows in torch.randperm(len(features), generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(network(features[rows]), target[rows])
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def _trainer(X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int) -> float:
    start = time.perf_counter()
    TorchMLPClassifier(epochs=epochs, batch_size=batch_size, patience=None, progress=True).fit(X, y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 rows and 1 epoch")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the best is reported")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows, epochs = (100_000, 1) if args.quick else (1_000_000, 2)
    X, y = _data(rows, 20)
    _plain_loop(X[:10_000], y[:10_000], 1, args.batch_size)  # warm up the allocator and kernels
    plain, ours = [], []
    for _ in range(args.repeats):  # interleaved, so background load hits both alike
        plain.append(_plain_loop(X, y, epochs, args.batch_size))
        ours.append(_trainer(X, y, epochs, args.batch_size))
    samples = rows * epochs
    table = Table(
        title=f"MLP training, {rows:,} rows x 20 features, {epochs} epoch(s), batch {args.batch_size}, "
        f"{torch.get_num_threads()} threads"
    )
    for column in ("loop", "best seconds", "samples/s", "vs plain"):
        table.add_column(column, justify="right" if column != "loop" else "left")
    table.add_row("plain PyTorch", f"{min(plain):.2f}", f"{samples / min(plain):,.0f}", "1.00x")
    table.add_row(
        "fti TorchMLPClassifier", f"{min(ours):.2f}", f"{samples / min(ours):,.0f}", f"{min(ours) / min(plain):.2f}x"
    )
    Console().print(table)
    print(f"target: within 1.2x of the plain loop -> {'met' if min(ours) <= 1.2 * min(plain) else 'NOT met'}")


if __name__ == "__main__":
    main()
