"""Run the model server with uvicorn, in one process or several (``--workers``).

Several workers need the app as an import string naming a factory (``"package.module:build_app"``, a
function without arguments returning the app), because each worker process builds its own app::

    python -m fti.inference.runner mypackage.serving:build_app --port 8080 --workers 4
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fastapi import FastAPI

from fti.errors import ValidationError
from fti.inference.server import ServingSettings

__all__ = ["main", "serve"]

_GRACEFUL_SHUTDOWN_SECONDS = 30


def serve(app: FastAPI | str, settings: ServingSettings) -> None:
    """Serve ``app`` (an app, or ``"module:factory"``) on ``settings.host:settings.port`` until stopped.

    On SIGINT/SIGTERM uvicorn stops accepting connections, lets requests in flight finish, and runs the
    app's shutdown, which flushes the request log.
    """
    import uvicorn

    if settings.workers > 1 and not isinstance(app, str):
        raise ValidationError(
            f"Serving with {settings.workers} workers needs the app as an import string 'module:factory' "
            "(each worker builds its own app): pass the factory's path instead of the app."
        )
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        host=settings.host,
        port=settings.port,
        workers=settings.workers if isinstance(app, str) else None,
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        log_level="info",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m fti.inference.runner module:factory [--host] [--port] [--workers]``."""
    parser = argparse.ArgumentParser(description="Run the FTI Stack model server.")
    parser.add_argument("factory", help="import path of a function returning the app, e.g. 'pkg.mod:build_app'")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    args = parser.parse_args(argv)
    serve(args.factory, ServingSettings(host=args.host, port=args.port, workers=args.workers))


if __name__ == "__main__":
    main()
