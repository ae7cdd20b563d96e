from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.sweeps.databases import create_sqlite_atomically, sqlite_path


def make_table(url: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("CREATE TABLE made (x INTEGER)")


def test_a_new_database_appears_only_when_initialised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'store.db'}"

    def interrupted(temporary: str) -> None:
        make_table(temporary)
        raise KeyboardInterrupt  # stands for a kill half-way through the migrations

    with pytest.raises(KeyboardInterrupt):
        create_sqlite_atomically(url, interrupted)
    assert not (tmp_path / "sub" / "store.db").exists()
    create_sqlite_atomically(url, make_table)
    with sqlite3.connect(tmp_path / "sub" / "store.db") as connection:
        assert connection.execute("SELECT count(*) FROM made").fetchone() == (0,)


def test_existing_databases_and_servers_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "store.db").write_bytes(b"")
    create_sqlite_atomically(f"sqlite:///{tmp_path / 'store.db'}", pytest.fail)
    create_sqlite_atomically("postgresql://host/db", pytest.fail)
    assert sqlite_path("postgresql://host/db") is None
    assert sqlite_path(f"sqlite:///{tmp_path / 'x.db'}") == tmp_path / "x.db"
