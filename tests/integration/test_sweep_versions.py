"""Stale results: a sweep run again after its code or data changed trains the trial again.

The sweep runs from a copy of the ``harness`` and ``models`` packages (on PYTHONPATH, from a
working directory without the project's packages, for the command and its workers) and of the
dataset, so that the test can change the source and the labels as a committed change would,
without touching the project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sweep_checks import (
    PROJECT_ROOT,
    mlflow_runs,
    optuna_states,
    run_sweep,
    study_storage,
    sweep_command,
    tracking_uri,
    write_tiny_spec,
)

from harness.report.versions import MARK

KEY = "ethanol/ccsd/egnn/standard/b6/s0"


def copy_sources(folder: Path) -> Path:
    source = folder / "source"
    for package in ("harness", "models"):
        shutil.copytree(PROJECT_ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return source


def one_trial_sweep(folder: Path, seeds: tuple[int, ...] = (0,), **changes: object) -> Path:
    data = folder / "ethanol"
    if not data.exists():
        shutil.copytree(PROJECT_ROOT / "data" / "ethanol", data,
                        ignore=shutil.ignore_patterns("gaff2"))
    return write_tiny_spec(folder, name="versions", methods=["standard"], seeds=list(seeds),
                           datasets=[{"molecule": "ethanol",
                                      "accurate": {"path": str(data), "level": "ccsd"}}],
                           **changes)


def trial_runs(folder: Path) -> list:
    return sorted(mlflow_runs(folder, "versions"), key=lambda run: run.info.start_time)


def test_a_changed_loss_or_dataset_reruns_the_trial_unless_told_to_keep_it(tmp_path: Path
                                                                           ) -> None:
    source = copy_sources(tmp_path)
    spec = one_trial_sweep(tmp_path)
    environment = {"PYTHONPATH": str(source)}
    command = sweep_command(spec, tmp_path, workers=1)
    first = run_sweep(command, environment=environment, cwd=tmp_path)
    assert "1 of 1 trials complete" in first.stdout and "re-queued" not in first.stdout
    [original] = trial_runs(tmp_path)

    losses = source / "harness" / "train" / "losses.py"
    losses.write_text(losses.read_text() + "\n# a committed change to the loss\n")
    second = run_sweep(command, environment=environment, cwd=tmp_path)
    assert "1 of 1 trials complete" in second.stdout
    assert "re-queued 1 trial(s) whose code or data changed" in second.stdout
    old, new = trial_runs(tmp_path)
    assert old.info.run_id == original.info.run_id and old.data.tags["superseded"] == "true"
    assert new.info.status == "FINISHED" and "superseded" not in new.data.tags
    assert new.data.tags["generation"] == "1"
    assert new.data.tags["code_version"] != old.data.tags["code_version"]
    assert new.data.tags["data_hash"] == old.data.tags["data_hash"]
    assert new.data.metrics["n_accurate_train"] == 6  # it trained and logged again
    [cell] = mlflow_runs(tmp_path, "versions", role="cell")
    assert cell.data.tags["code_version"] == new.data.tags["code_version"]
    states = optuna_states(study_storage(tmp_path, "versions"), "versions:default")
    assert [state.name for state in states[KEY]] == ["COMPLETE", "COMPLETE"]

    description = tmp_path / "ethanol" / "dataset.json"
    content = json.loads(description.read_text())
    description.write_text(json.dumps({**content, "note": "relabelled"}))
    third = run_sweep(command, environment=environment, cwd=tmp_path)
    assert "re-queued 1 trial(s)" in third.stdout
    newest = trial_runs(tmp_path)[-1]
    assert newest.data.tags["generation"] == "2"
    assert newest.data.tags["data_hash"] != new.data.tags["data_hash"]

    losses.write_text(losses.read_text() + "# another change\n")
    kept = run_sweep([*command, "--keep-stale-results"], environment=environment, cwd=tmp_path)
    assert "kept 1 result(s) of other code or data versions" in kept.stdout
    assert len(trial_runs(tmp_path)) == 3  # nothing trained

    one_trial_sweep(tmp_path, seeds=(0, 1))  # seed 1 runs with the new code, seed 0 is kept
    mixed = run_sweep([*command, "--keep-stale-results"], environment=environment, cwd=tmp_path)
    assert "2 of 2 trials complete" in mixed.stdout
    report = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--tracking-uri",
                             tracking_uri(tmp_path), "--out", str(tmp_path / "report")],
                            cwd=tmp_path, env={**os.environ, **environment}, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "mix 2 code/data versions" in report.stdout
    text = (tmp_path / "report" / "report.md").read_text()
    assert "MIXED VERSIONS" in text and f"{MARK}" in text

    # A changed training config (an edited spec, or a default changed by an upgrade, as
    # `dvc repro` after `git pull` meets) is another experiment: rerun, kept results or not.
    one_trial_sweep(tmp_path, seeds=(0, 1), train={"loss": {"rho": 0.5}})
    respecified = run_sweep([*command, "--keep-stale-results"], environment=environment,
                            cwd=tmp_path)
    assert "2 of 2 trials complete" in respecified.stdout
    assert "re-queued 2 trial(s) whose training config changed" in respecified.stdout
    current = [run for run in trial_runs(tmp_path) if "superseded" not in run.data.tags]
    assert len(current) == 2 and all(run.info.status == "FINISHED" for run in current)
