"""Kill a whole sweep with SIGKILL, run the same command again: every trial done exactly once.

The fast test kills once a first trial has completed (others are running); the slow one kills
at random moments, several times over (set-up and database creation included), before letting
the sweep finish.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from sweep_checks import (
    assert_each_trial_done_once,
    run_sweep,
    start_sweep,
    study_storage,
    sweep_command,
    write_tiny_spec,
)

TINY_KEYS = ["ethanol/ccsd/egnn/standard/b6/s0", "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g0.5/s0",
             "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g2/s0",
             "ethanol/ccsd+xtb/egnn/delta_ml/b6/r20/s0"]


def count_trials(storage: str, state: str) -> int:
    """Trials in ``state``, read with plain SQL so that the reader never creates tables."""
    database = Path(storage.removeprefix("sqlite:///"))
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
            return connection.execute("SELECT count(*) FROM trials WHERE state = ?",
                                      (state,)).fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def kill_whole_sweep(sweep) -> None:
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()


def freeze_once_mid_trial(sweep, storage: str, timeout: float = 600) -> None:
    """Stop the whole sweep (SIGSTOP) at a moment when one trial is done and another running.

    Checking first and killing after is a race on a loaded host: a worker may be between two
    trials, or still importing, at the moment of the kill. A stopped sweep cannot change state
    between the check and the kill. The deadline only guards against a hang: on a loaded host
    the set-up and the first trial took more than 180 s.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert sweep.poll() is None, "the sweep ended before it could be killed"
        os.killpg(sweep.pid, signal.SIGSTOP)
        if count_trials(storage, "COMPLETE") >= 1 and count_trials(storage, "RUNNING") >= 1:
            return
        os.killpg(sweep.pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError(f"no moment with a finished and a running trial in {timeout:.0f} s")


def test_sweep_killed_mid_trial_resumes_each_trial_exactly_once(tmp_path: Path) -> None:
    spec = write_tiny_spec(tmp_path, name="resume")
    command = sweep_command(spec, tmp_path, workers=2)
    storage = study_storage(tmp_path, "resume")
    sweep = start_sweep(command)
    freeze_once_mid_trial(sweep, storage)
    kill_whole_sweep(sweep)
    assert count_trials(storage, "COMPLETE") < len(TINY_KEYS), "killed too late"
    assert count_trials(storage, "RUNNING") >= 1

    run_sweep(command)
    assert_each_trial_done_once(tmp_path, storage, "resume:default", "resume", TINY_KEYS)


@pytest.mark.slow
def test_sweep_killed_at_random_moments_resumes_each_trial_exactly_once(tmp_path: Path) -> None:
    spec = write_tiny_spec(tmp_path, name="random-kills")
    command = sweep_command(spec, tmp_path, workers=2, profile="two_seeds",
                            tracking_template=False)
    storage = study_storage(tmp_path, "random-kills", "two_seeds")
    moments = sorted(random.Random(os.getpid()).uniform(0.5, 30) for _ in range(4))
    print(f"kills after {', '.join(f'{seconds:.1f}' for seconds in moments)} s")  # on failure
    for seconds in moments:  # the first kills may land while databases are being created
        sweep = start_sweep(command)
        time.sleep(seconds)
        if sweep.poll() is not None:
            break
        kill_whole_sweep(sweep)
    run_sweep(command, timeout=400)
    keys = [key.replace("/s0", f"/s{seed}") for seed in (0, 1) for key in TINY_KEYS]
    assert_each_trial_done_once(tmp_path, storage, "random-kills:two_seeds", "random-kills",
                                keys)
