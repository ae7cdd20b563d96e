"""Fixtures of the report tests: the synthetic record of ``report_toy``, as a SQLite MLflow
store (built once per session; tests that write into a store get their own copy) and as the
typed trial frame that ``collect`` reads from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from report_toy import frame_of, toy_trials, write_store


@pytest.fixture(scope="session")
def toy_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Read-only use: tests that log into a store take ``writable_store``."""
    return write_store(tmp_path_factory.mktemp("toy-store"))


@pytest.fixture()
def writable_store(toy_store: str, tmp_path: Path) -> str:
    """A copy of the toy store's database (artifacts still go to the shared folder, under
    fresh run ids)."""
    copy = tmp_path / "store" / "mlflow.db"
    copy.parent.mkdir()
    shutil.copy(toy_store.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


@pytest.fixture()
def toy_frame() -> pd.DataFrame:
    return frame_of(toy_trials())
