"""A throw-away PostgreSQL server for the integration tests, with or without a password.

``initdb`` in a temporary folder, started with ``pg_ctl`` on a free port of 127.0.0.1 (as the
``postgres`` user when the tests run as root, since PostgreSQL refuses root). The tests skip
only when the PostgreSQL binaries are not installed (``.ci/run`` installs Debian's
``postgresql`` package); a server that is installed but does not start is a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def postgres_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian keeps them out of PATH)."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((folder for folder in candidates
                 if (folder / "initdb").exists() and (folder / "pg_ctl").exists()), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_user(root: Path) -> list[str]:
    """The command prefix that runs the server as ``postgres`` when the tests run as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root needs the 'postgres' user (Debian's package makes it)")
    shutil.chown(root, "postgres")
    return ["runuser", "-u", "postgres", "--"]


def _authentication(root: Path, password: str | None, run_as: list[str]) -> list[str]:
    """initdb's options: trust everyone, or demand ``password`` of user ``postgres``."""
    if password is None:
        return ["-A", "trust"]
    password_file = root / "password"
    password_file.write_text(password + "\n")
    if run_as:
        shutil.chown(password_file, "postgres")
    return ["-A", "scram-sha-256", "--pwfile", str(password_file)]


@contextmanager
def throwaway_server(password: str | None = None) -> Iterator[str]:
    """A server of its own; yields ``127.0.0.1:<port>``. With ``password``, user ``postgres``
    must give it (scram-sha-256); without, every connection is trusted."""
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl): .ci/run installs Debian's "
                    "postgresql package")
    root = Path(tempfile.mkdtemp(prefix="harness-postgres-"))
    run_as = _server_user(root)
    data, port = root / "data", free_port()
    subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(data),
                    *_authentication(root, password, run_as), "-U", "postgres", "-E", "UTF8",
                    "--no-sync"], check=True, capture_output=True)
    (root / "password").unlink(missing_ok=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
                              "-l", str(root / "server.log"), "-w", "start"], capture_output=True,
                             text=True)
    assert started.returncode == 0, started.stderr + (root / "server.log").read_text()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
