"""The other servers for ``benchmarks/serving.py --compare``: ``mlflow models serve`` and MLServer (and the
virtual environments of every benchmark's peers).

Each runs from its own virtual environment (created once under ``--compare-dir`` with pip), fits the
same logistic regression on the same data there (so no pickle crosses library versions), and serves it
with its defaults and one worker. The load and the bodies are the ones the fti server gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fti.testing.services import free_port, wait_for_port

PACKAGES = {
    "mlflow": ["mlflow-skinny", "scikit-learn", "pandas", "fastapi", "uvicorn"],
    # the tracking benchmark's search on MLflow's SQLite store
    "mlflow-tracking": ["mlflow-skinny", "sqlalchemy", "alembic", "pandas"],
    # MLServer 1.7 needs an uvloop that still creates a loop in get_event_loop()
    "mlserver": ["mlserver", "mlserver-sklearn", "uvloop<0.22"],
}

_SAVE_MLFLOW = """
import sys, numpy as np, pandas as pd, mlflow.sklearn
from sklearn.linear_model import LogisticRegression
features, labels = np.load(sys.argv[1]), np.load(sys.argv[2])
frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(features.shape[1])])
model = LogisticRegression().fit(frame, labels)
mlflow.sklearn.save_model(
    model, sys.argv[3], serialization_format="cloudpickle", pyfunc_predict_fn="predict_proba"
)
"""

_SAVE_MLSERVER = """
import sys, joblib, numpy as np
from sklearn.linear_model import LogisticRegression
joblib.dump(LogisticRegression().fit(np.load(sys.argv[1]), np.load(sys.argv[2])), sys.argv[3])
"""


def ensure_venv(folder: Path, name: str) -> Path:
    """The Python of ``folder/name``, a virtual environment with ``PACKAGES[name]`` (created once)."""
    venv = folder / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES[name]], check=True)
        stamp.touch()
    return python


def _start_mlflow(python: Path, scratch: Path, data: tuple[Path, Path], port: int) -> subprocess.Popen[bytes]:
    model = scratch / "mlflow-model"
    subprocess.run([str(python), "-c", _SAVE_MLFLOW, str(data[0]), str(data[1]), str(model)], check=True)
    mlflow = python.parent / "mlflow"
    command = [str(mlflow), "models", "serve", "-m", str(model), "--env-manager", "local"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return _spawn(command, scratch)


def _start_mlserver(python: Path, scratch: Path, data: tuple[Path, Path], port: int) -> subprocess.Popen[bytes]:
    folder = scratch / "mlserver"
    folder.mkdir()
    subprocess.run(
        [str(python), "-c", _SAVE_MLSERVER, str(data[0]), str(data[1]), str(folder / "model.joblib")], check=True
    )
    settings = {"host": "127.0.0.1", "http_port": port, "grpc_port": free_port(), "metrics_port": free_port()}
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": "fraud",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (folder / "model-settings.json").write_text(json.dumps(model_settings))
    return _spawn([str(python.parent / "mlserver"), "start", str(folder)], scratch)


def _spawn(command: list[str], scratch: Path) -> subprocess.Popen[bytes]:
    log = (scratch / f"{Path(command[0]).name}.log").open("wb")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # mlflow starts `uvicorn` through the shell: the venv's bin must come first on PATH
    env["PATH"] = f"{Path(command[0]).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.Popen(command, cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT)


def _ready(port: int, path: str) -> None:
    import time
    import urllib.request

    wait_for_port(port, timeout=120)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"The server on port {port} did not become ready on {path}.")


def run_others(
    folder: Path,
    data: tuple[np.ndarray, np.ndarray],
    cases: Callable[[str], list[Any]],
    concurrencies: list[int],
    seconds: float,
    table: Any,
    measure: Callable[..., None],
) -> None:
    """Measure mlflow and MLServer with the same load, adding their rows to ``table``."""
    starters = {"mlflow": (_start_mlflow, "/ping"), "mlserver": (_start_mlserver, "/v2/models/fraud/ready")}
    with tempfile.TemporaryDirectory(prefix="fti-compare-") as temporary:
        scratch = Path(temporary)
        paths = (scratch / "features.npy", scratch / "labels.npy")
        np.save(paths[0], data[0])
        np.save(paths[1], data[1])
        for name, (start, ready_path) in starters.items():
            python = ensure_venv(folder, name)
            port = free_port()
            process = start(python, scratch, paths, port)
            try:
                _ready(port, ready_path)
                measure(port, cases(name), concurrencies, seconds, table, name)
            finally:
                process.terminate()
                process.wait(timeout=60)
