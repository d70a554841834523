"""The address a server command (``fti serve``, ``fti ui``) listens on, checked before anything starts."""

from __future__ import annotations

import errno
import socket

from fti.errors import ConflictError, ValidationError

__all__ = ["ensure_port_free"]


def ensure_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` as the server would (address reuse on), then let it go.

    Raises:
        ValidationError: the port is out of range, or the host is not an address of this machine.
        ConflictError: another process listens there.
    """
    if not 0 < port < 65536:
        raise ValidationError(f"--port must be between 1 and 65535, got {port}.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ValidationError(f"--host {host!r} is not an address of this machine: {exc.strerror}.") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConflictError(f"port {port} is in use (try --port).") from None
            raise ValidationError(f"Cannot listen on {host}:{port}: {exc.strerror} (try another --host).") from None
