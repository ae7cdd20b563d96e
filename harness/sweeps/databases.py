"""SQLite databases that survive ``kill -9`` while they are being created.

MLflow and Optuna create their tables with schema migrations; a process killed half-way leaves
a file that neither opens again (seen here: MLflow's ``_alembic_tmp_experiments already
exists``). A new database is therefore made in a temporary file beside the target and renamed
into place only once its tables exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, None for other databases."""
    if not url.startswith("sqlite:"):
        return None
    from sqlalchemy.engine import make_url

    return Path(make_url(url).database).resolve()


def create_sqlite_atomically(url: str, initialise: Callable[[str], None]) -> None:
    """Make the SQLite database of ``url`` with ``initialise(temporary_url)`` unless it exists.

    Other URLs (PostgreSQL, a tracking server) are left to their servers.
    """
    database = sqlite_path(url)
    if database is None or database.exists():
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(f"{database.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    initialise(f"sqlite:///{partial}")
    os.replace(partial, database)
