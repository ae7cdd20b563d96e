"""Kills that must not change a sweep's outcome: one worker of two, and the settling at the end.

A worker killed mid-trial leaves its trial RUNNING without heartbeats; the other worker fails
it as stale, runs its retry and the sweep ends complete, with exit status 0 (the status is the
sweep's, the dead worker is a warning). A sweep killed while it settles its cells (gammas
chosen, cell runs summarised) settles them when run again, training nothing twice.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from sweep_checks import (
    PROJECT_ROOT,
    assert_each_trial_done_once,
    mlflow_runs,
    run_sweep,
    study_storage,
    sweep_command,
    write_tiny_spec,
)
from test_sweep_resume import TINY_KEYS

STALLED_SETTLING = """
import sys, time
from pathlib import Path
from harness import cli
from harness.sweeps import mlflow_layout

original = mlflow_layout.SweepTracking.terminate

def stall(self, run_id, status="FINISHED"):  # the first cell is settled, the others are not
    original(self, run_id, status)
    Path(sys.argv[1]).touch()
    time.sleep(600)

mlflow_layout.SweepTracking.terminate = stall
sys.exit(cli.main(sys.argv[2:]))
"""
TRAINING = re.compile(r"worker (\d+): \S+: training")


def training_worker(logs: Path) -> int | None:
    """The pid of a worker that has started training a trial, from the workers' logs."""
    for log in sorted(logs.glob("worker-*.log")):
        found = TRAINING.search(log.read_text())
        if found:
            return int(found.group(1))
    return None


def test_a_killed_worker_does_not_fail_a_sweep_the_other_worker_completes(tmp_path: Path
                                                                          ) -> None:
    spec = write_tiny_spec(tmp_path, name="one-dies")
    command = sweep_command(spec, tmp_path, workers=2)
    logs = tmp_path / "state" / "one-dies" / "default" / "logs"
    sweep = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while (victim := training_worker(logs)) is None:
        assert sweep.poll() is None and time.monotonic() < deadline, "no worker trained"
        time.sleep(0.05)
    os.kill(victim, signal.SIGKILL)
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, output
    assert "4 of 4 trials complete, 0 failed, 0 pending" in output
    assert f"warning: worker {victim} exited with -9" in output
    assert_each_trial_done_once(tmp_path, study_storage(tmp_path, "one-dies"),
                                "one-dies:default", "one-dies", TINY_KEYS)


def test_a_sweep_killed_while_settling_its_cells_settles_them_when_run_again(tmp_path: Path
                                                                             ) -> None:
    spec = write_tiny_spec(tmp_path, name="settling")
    command = sweep_command(spec, tmp_path, workers=2)
    marker = tmp_path / "settling-started"
    stalled = subprocess.Popen([sys.executable, "-c", STALLED_SETTLING, str(marker),
                                *command[3:]], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert stalled.poll() is None and time.monotonic() < deadline, "never settled"
        time.sleep(0.05)
    os.killpg(stalled.pid, signal.SIGKILL)
    stalled.wait()
    cells = mlflow_runs(tmp_path, "settling", role="cell")
    assert sorted(run.info.status for run in cells) == ["FINISHED", "RUNNING", "RUNNING"]

    completed = run_sweep(command)
    assert "4 of 4 trials complete, 0 failed, 0 pending" in completed.stdout
    assert_each_trial_done_once(tmp_path, study_storage(tmp_path, "settling"),
                                "settling:default", "settling", TINY_KEYS)
    cells = mlflow_runs(tmp_path, "settling", role="cell")
    assert {run.info.status for run in cells} == {"FINISHED"}
    assert all(run.data.metrics["n_selected_trials"] == 1 for run in cells)
    asteroid = [run for run in mlflow_runs(tmp_path, "settling")
                if run.data.tags["method"] == "asteroid"]
    assert sorted(run.data.tags["selected"] for run in asteroid) == ["false", "true"]
