"""A database password never shows: not on stdout, in the summary, logs or report, nor in ``ps``.

A throw-away PostgreSQL server that demands a password (scram-sha-256) holds both the Optuna
study and the MLflow record. The sweep gets the URLs, password included, from its environment;
while it runs, every process's command line (what ``ps`` shows any local user) is read again
and again. The password can also stay out of the URL altogether: ``~/.pgpass`` (here through
``PGPASSFILE``) and ``PGPASSWORD`` are PostgreSQL's own ways, and the sweep accepts them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_checks import throwaway_server
from sweep_checks import PROJECT_ROOT, run_sweep, sweep_command, write_tiny_spec

from harness.sweeps.spec import SchedulingSpec
from harness.sweeps.study import open_storage, open_study

SECRET = "Sup3r-secret-pw"


@pytest.fixture(scope="module")
def password_server() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 whose user ``postgres`` needs ``SECRET``; yields
    ``host:port``."""
    with throwaway_server(SECRET) as server:
        yield server


def new_database(server: str, name: str) -> None:
    import psycopg

    host, port = server.split(":")
    with psycopg.connect(host=host, port=port, user="postgres", password=SECRET,
                         dbname="postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def command_lines() -> list[str]:
    """Every process's command line, as ``ps -eo args`` shows it."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:  # the process ended meanwhile
                continue
    return lines


def files_holding(folder: Path, text: str) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()
            and text.encode() in path.read_bytes()]


def test_the_password_never_shows_in_output_summary_logs_report_or_ps(password_server: str,
                                                                    tmp_path: Path) -> None:
    new_database(password_server, "sweep")
    new_database(password_server, "mlflow")
    artifacts = (tmp_path / "mlartifacts").as_uri()
    spec = write_tiny_spec(tmp_path, name="secret", tracking={"artifact_location": artifacts})
    environment = {**os.environ, "PYTHONHASHSEED": "0",
                   "HARNESS_SWEEP_STORAGE": f"postgresql://postgres:{SECRET}@{password_server}"
                                            "/sweep",
                   "MLFLOW_TRACKING_URI": f"postgresql://postgres:{SECRET}@{password_server}"
                                          "/mlflow"}
    summary = tmp_path / "summary.json"
    command = [sys.executable, "-m", "harness.cli", "sweep", "run", str(spec), "--workers", "2",
               "--state-dir", str(tmp_path / "state"), "--quiet", "--summary", str(summary)]
    output = tmp_path / "sweep-output.txt"
    with open(output, "w") as sink:
        sweep = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=sink,
                                 stderr=subprocess.STDOUT)
        seen_workers = 0
        deadline = time.monotonic() + 400
        while sweep.poll() is None and time.monotonic() < deadline:
            lines = command_lines()
            assert not [line for line in lines if SECRET in line]
            seen_workers = max(seen_workers, sum("harness.sweeps.worker" in line
                                                 and str(tmp_path) in line for line in lines))
            time.sleep(0.2)
        sweep.wait(timeout=10)
    text = output.read_text()
    assert sweep.returncode == 0, text
    assert seen_workers == 2, "the workers' command lines were never seen"
    assert "4 of 4 trials complete" in text and f"postgres:***@{password_server}" in text
    assert SECRET not in text
    assert SECRET not in summary.read_text() and "***" in summary.read_text()
    assert files_holding(tmp_path / "state", SECRET) == []  # worker logs, trial folders

    report = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--out",
                             str(tmp_path / "report")], cwd=PROJECT_ROOT, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    assert SECRET not in report.stdout + report.stderr
    assert files_holding(tmp_path / "report", SECRET) == []
    assert files_holding(tmp_path / "mlartifacts", SECRET) == []

    wrong = {**environment, "MLFLOW_TRACKING_URI": f"postgresql://postgres:{SECRET}@127.0.0.1:1"
                                                   "/mlflow"}
    failed = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--out",
                             str(tmp_path / "other")], cwd=PROJECT_ROOT, env=wrong,
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2 and "postgres:***@127.0.0.1:1" in failed.stderr
    assert SECRET not in failed.stdout + failed.stderr


def test_the_password_can_come_from_pgpass_or_pgpassword(password_server: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    new_database(password_server, "pgpass")
    url = f"postgresql://postgres@{password_server}/pgpass"  # no password in it
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(Exception, match="password"):
        open_study(open_storage(url, SchedulingSpec()), "needs-a-password")
    monkeypatch.setenv("PGPASSWORD", SECRET)
    open_study(open_storage(url, SchedulingSpec()), "from-pgpassword")
    monkeypatch.delenv("PGPASSWORD")

    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{password_server}:*:postgres:{SECRET}\n")
    pgpass.chmod(0o600)  # libpq ignores a password file that others can read
    spec = write_tiny_spec(tmp_path, name="pgpass", methods=["standard"])
    completed = run_sweep(sweep_command(spec, tmp_path, workers=1, storage=url),
                          environment={"PGPASSFILE": str(pgpass)})
    assert "1 of 1 trials complete" in completed.stdout
    assert "warning" not in completed.stderr  # no password on the command line
