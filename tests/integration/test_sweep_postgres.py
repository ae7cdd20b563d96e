"""Workers sharing one study through a real PostgreSQL server on 127.0.0.1 (and SQLite).

The server is a throw-away cluster: ``initdb`` in a temporary folder, started with ``pg_ctl``
on a free port (as the ``postgres`` user when the tests run as root, since PostgreSQL refuses
root). The tests skip only when the PostgreSQL binaries are not installed (``.ci/run`` installs
Debian's ``postgresql`` package); a server that is installed but does not start is a failure.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from sweep_checks import (
    PROJECT_ROOT,
    assert_each_trial_done_once,
    run_sweep,
    sweep_command,
    write_tiny_spec,
)

from harness.sweeps.spec import SchedulingSpec
from harness.sweeps.study import open_storage, open_study

QUEUED_TRIALS = 60
CLAIM_LOOP = """
import json, random, sys, time
from pathlib import Path
from harness.sweeps.spec import SchedulingSpec
from harness.sweeps.study import claim_next, open_storage, open_study, tell
storage = open_storage(sys.argv[1], SchedulingSpec(heartbeat_seconds=5, grace_seconds=60))
study = open_study(storage, "queue")
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
while (trial := claim_next(study, storage)) is not None:
    time.sleep(random.uniform(0, 0.005))
    tell(study, storage, trial, 0.0)
    print(json.dumps(trial.user_attrs["trial_key"]), flush=True)
"""


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


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1; yields its URL without a database."""
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl): .ci/run installs Debian's "
                    "postgresql package")
    root = Path(tempfile.mkdtemp(prefix="harness-postgres-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the package's user
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the 'postgres' user (Debian's package makes it)")
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
                              "-l", str(root / "server.log"), "-w", "start"], capture_output=True,
                             text=True)
    assert started.returncode == 0, started.stderr + (root / "server.log").read_text()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def new_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    return new_database(request.getfixturevalue("postgres_server"), "queue")


def test_two_processes_claim_every_queued_trial_exactly_once(storage_url: str,
                                                             tmp_path: Path) -> None:
    study = open_study(open_storage(storage_url, SchedulingSpec()), "queue")
    for index in range(QUEUED_TRIALS):
        study.enqueue_trial(params={}, user_attrs={"trial_key": f"trial-{index:02d}"})
    go = tmp_path / "go"
    claimers = [subprocess.Popen([sys.executable, "-c", CLAIM_LOOP, storage_url, str(go)],
                                 cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    time.sleep(3.0)  # both processes import and connect, then start together
    go.touch()
    claimed = [[json.loads(line) for line in process.communicate(timeout=120)[0].splitlines()]
               for process in claimers]
    assert all(process.returncode == 0 for process in claimers)
    assert all(claimed), "one process claimed nothing: the race was not exercised"
    counts = Counter(claimed[0] + claimed[1])
    assert sorted(counts) == [f"trial-{index:02d}" for index in range(QUEUED_TRIALS)]
    assert set(counts.values()) == {1}
    states = Counter(trial.state for trial in study.get_trials(deepcopy=False))
    assert states == {optuna.trial.TrialState.COMPLETE: QUEUED_TRIALS}


def test_two_workers_share_a_postgresql_study(postgres_server: str, tmp_path: Path) -> None:
    storage = new_database(postgres_server, "sweep")
    spec = write_tiny_spec(tmp_path, name="shared")
    run_sweep(sweep_command(spec, tmp_path, workers=2, storage=storage))
    keys = ["ethanol/ccsd/egnn/standard/b6/s0", "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g0.5/s0",
            "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g2/s0",
            "ethanol/ccsd+xtb/egnn/delta_ml/b6/r20/s0"]
    assert_each_trial_done_once(tmp_path, storage, "shared:default", "shared", keys)
