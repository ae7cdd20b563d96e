"""Is a database or tracking server there at all? One short TCP connect, before any client.

SQLAlchemy, psycopg and MLflow's REST client all retry an unreachable server, for minutes in
MLflow's case, and then fail with a long traceback. A plain socket connect with a timeout of a
few seconds answers the question first, so that a wrong URL costs one line and no waiting.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from harness.errors import ConfigError
from harness.redaction import redact

CONNECT_TIMEOUT_S = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mssql": 1433}


def server_address(url: str) -> tuple[str, int] | None:
    """(host, port) of a URL that names a network server, None for files and SQLite."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]  # postgresql+psycopg2 -> postgresql
    if not parsed.hostname or scheme not in DEFAULT_PORTS:
        return None
    try:
        port = parsed.port or DEFAULT_PORTS[scheme]
    except ValueError:  # a port that is not a number
        raise ConfigError(redact(url), "port", "not a port number") from None
    return parsed.hostname, port


def check_server(url: str, source: str, key: str, what: str,
                 timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A ``ConfigError`` naming ``source`` and ``key`` unless the server of ``url`` accepts a
    TCP connection within ``timeout_s`` seconds; URLs of files and SQLite pass unchecked."""
    address = server_address(url)
    if address is None:
        return
    host, port = address
    try:
        socket.create_connection(address, timeout_s).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise ConfigError(source, key, f"cannot reach the {what} at {host}:{port} "
                          f"({reason}, waited at most {timeout_s:g} s)") from None
