"""Workers sharing one study through a real PostgreSQL server on 127.0.0.1 (and SQLite).

The server is a throw-away cluster (``postgres_checks``): the tests skip only when the
PostgreSQL binaries are not installed; a server that is installed but does not start is a
failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from postgres_checks import throwaway_server
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


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1; yields its URL without a database."""
    with throwaway_server() as server:
        yield f"postgresql://postgres@{server}"


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
