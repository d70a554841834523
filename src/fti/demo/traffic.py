"""Live traffic for the fraud demo: ``fti serve`` in the background and a stream of scoring requests.

:class:`ModelServer` starts the real model server (``python -m fti serve``) on a free port, waits until it
is ready, and stops it with SIGTERM so that it finishes the requests in flight and flushes its request
log. :func:`send_transactions` scores transactions one request each, from a few concurrent HTTP clients,
with the features given in the request and the transaction id as the request id, so that labels
arriving later can be matched to the logged predictions.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from fti.errors import BackendError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ModelServer", "free_port", "request_id", "score_by_keys", "send_transactions"]

_READY_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def request_id(tx_id: int) -> str:
    """The request id a transaction is scored under (labels find their prediction by it)."""
    return f"tx-{tx_id}"


class ModelServer:
    """``fti serve`` for the project in ``root``, in a child process, as a context manager.

    Example:
        >>> with ModelServer(Path("fti-demo")) as server:  # doctest: +SKIP
        ...     httpx.get(f"{server.url}/v2/health/ready").status_code
        200
    """

    def __init__(self, root: Path, *, log_file: Path, settings: dict[str, str] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        #: ``serving:`` settings for this server, e.g. {"refresh_seconds": "1"}
        self.settings = dict(settings or {})
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ModelServer:
        """Start the server and wait until ``/v2/health/ready`` answers 200."""
        return self.launch().wait_ready()

    def launch(self) -> ModelServer:
        """Start the server process without waiting for it (see :meth:`wait_ready`)."""
        env = {**os.environ, **{f"FTI_SERVING_{key.upper()}": value for key, value in self.settings.items()}}
        command = [sys.executable, "-m", "fti", "serve", "--project", str(self.root), "--port", str(self.port)]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self) -> ModelServer:
        """Wait until ``/v2/health/ready`` answers 200."""
        if self._process is None:
            raise BackendError(f"The model server for {self.root} was not launched: call launch() first.")
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BackendError(
                    f"The model server exited with code {self._process.returncode} before it was ready: "
                    f"{self._log_tail()} (full log: {self.log_file})."
                )
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise BackendError(
            f"The model server on {self.url} was not ready after {_READY_TIMEOUT_S:.0f} s; see {self.log_file}."
        )

    def stop(self) -> None:
        """Stop gracefully (SIGTERM: requests in flight finish, the request log is flushed)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BackendError(
                f"The model server did not stop within {_STOP_TIMEOUT_S:.0f} s and was killed; its request log "
                f"may be incomplete (see {self.log_file})."
            ) from None

    def wait_for_versions(self, deployment: str, versions: set[int], timeout: float = 30.0) -> None:
        """Wait until the server routes ``deployment`` to exactly these model versions (after a hot swap)."""
        deadline = time.monotonic() + timeout
        served: set[int] = set()
        while time.monotonic() < deadline:
            answer = httpx.get(f"{self.url}/v2/models/{deployment}", timeout=5.0)
            if answer.status_code == 200:
                served = {int(version) for version in answer.json().get("versions", [])}
                if served == versions:
                    return
            time.sleep(0.2)
        raise BackendError(
            f"Deployment '{deployment}' still serves versions {sorted(served)} after {timeout:.0f} s, not "
            f"{sorted(versions)}; see {self.log_file}."
        )

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-3:]) or "no output"

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def send_transactions(
    url: str,
    deployment: str,
    transactions: pd.DataFrame,
    features: Sequence[str],
    *,
    clients: int = 4,
    on_answer: Callable[[int], None] | None = None,
    timed: bool = False,
) -> pd.DataFrame:
    """Score each transaction in its own request, from ``clients`` concurrent clients.

    Args:
        url: the model server.
        deployment: the deployment to call.
        transactions: rows with ``tx_id``, ``cc_num`` (the sticky A/B key) and the ``features``.
        features: the model's input columns, sent as given (no online lookup).
        clients: concurrent HTTP clients.
        on_answer: called with 1 after each answer (progress).
        timed: send each transaction's ``ts`` as its ``X-Request-Time`` (a server that trusts it logs the
            request at that time).

    Returns:
        One row per transaction: ``request_id``, ``tx_id``, ``model_version``, ``prediction``.

    Raises:
        BackendError: a request failed (the server's message is included).
    """
    import pandas as pd

    records = transactions[["cc_num", *features]].to_dict(orient="records")
    ids = [request_id(int(tx_id)) for tx_id in transactions["tx_id"]]
    headers = [{"X-Request-ID": identifier} for identifier in ids]
    if timed:
        for header, moment in zip(headers, _request_times(transactions["ts"]), strict=True):
            header["X-Request-Time"] = moment
    answers: list[tuple[int, float] | None] = [None] * len(records)
    advance = on_answer or (lambda _count: None)

    async def client(queue: asyncio.Queue[int], http: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            response = await http.post(
                f"{url}/v1/deployments/{deployment}/predict",
                json={"instances": [records[index]]},
                headers=headers[index],
            )
            if response.status_code != 200:
                raise BackendError(
                    f"Request {ids[index]} to deployment '{deployment}' failed with {response.status_code}: "
                    f"{response.text[:300]}"
                )
            body: dict[str, Any] = response.json()
            answers[index] = (int(body["model_versions"][0]), float(body["predictions"][0]))
            advance(1)

    async def run() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(len(records)):
            queue.put_nowait(index)
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=30.0) as http:
            await asyncio.gather(*(client(queue, http) for _ in range(clients)))

    asyncio.run(run())
    done = [answer for answer in answers if answer is not None]
    return pd.DataFrame(
        {
            "request_id": ids,
            "tx_id": transactions["tx_id"].to_numpy(),
            "model_version": [version for version, _ in done],
            "prediction": [prediction for _, prediction in done],
        }
    )


def score_by_keys(
    url: str, deployment: str, transaction: pd.Series, keys: Sequence[str], *, timed: bool = False
) -> pd.DataFrame:
    """Score one transaction by its keys alone: the server looks its features up in the deployment's online
    feature view. Returns the row :func:`send_transactions` returns for it (request id ``keys-<tx_id>``);
    ``timed`` sends the transaction's ``ts`` as the request's time.

    Raises:
        BackendError: the request failed (the server's message is included).
    """
    import pandas as pd

    identifier = f"keys-{int(transaction['tx_id'])}"
    entity = {key: transaction[key].item() if hasattr(transaction[key], "item") else transaction[key] for key in keys}
    headers = {"X-Request-ID": identifier}
    if timed:
        headers["X-Request-Time"] = transaction["ts"].isoformat()
    response = httpx.post(
        f"{url}/v1/deployments/{deployment}/predict", json={"entities": [entity]}, headers=headers, timeout=30.0
    )
    if response.status_code != 200:
        raise BackendError(
            f"Request {identifier} (keys {entity}) to deployment '{deployment}' failed with {response.status_code}: "
            f"{response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return pd.DataFrame(
        {
            "request_id": [identifier],
            "tx_id": [transaction["tx_id"]],
            "model_version": [int(body["model_versions"][0])],
            "prediction": [float(body["predictions"][0])],
        }
    )


def _request_times(times: pd.Series) -> list[str]:
    """ISO 8601 times with their zone (UTC when the column has none), as ``X-Request-Time`` takes them."""
    import pandas as pd

    stamps = pd.to_datetime(times)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    return [moment.isoformat() for moment in stamps]
