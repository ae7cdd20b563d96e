"""Helpers of the sweep integration tests: the tiny spec, the CLI, and exactly-once checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from harness.sweeps.spec import deep_merge

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TINY_SPEC = PROJECT_ROOT / "tests" / "unit" / "sweeps" / "tiny.yaml"


def write_tiny_spec(folder: Path, **changes: Any) -> Path:
    """The tiny spec (dataset paths relative to the project root) with ``changes``."""
    content = deep_merge(yaml.safe_load(TINY_SPEC.read_text()), changes)
    path = folder / f"{content['name']}.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def sweep_command(spec: Path, folder: Path, workers: int = 2, storage: str | None = None,
                  profile: str = "default", tracking_template: bool = True) -> list[str]:
    """``harness sweep run``; ``tracking_template`` False lets the sweep make its MLflow
    database itself (seconds of schema migrations) instead of copying an empty one."""
    if tracking_template:
        prepare_tracking(folder)
    command = [sys.executable, "-m", "harness.cli", "sweep", "run", str(spec), "--workers",
               str(workers), "--profile", profile, "--state-dir", str(folder / "state"),
               "--tracking-uri", tracking_uri(folder), "--quiet"]
    return command + (["--storage", storage] if storage else [])


def tracking_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


@lru_cache(maxsize=1)
def _empty_tracking_database() -> Path:
    """An MLflow SQLite database with its tables made (MLflow's migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    database = Path(tempfile.mkdtemp(prefix="mlflow-template-")) / "mlflow.db"
    MlflowClient(f"sqlite:///{database}").search_experiments()
    return database


def prepare_tracking(folder: Path) -> None:
    """Give ``folder`` a fresh MLflow database copied from the empty template."""
    if not (folder / "mlflow.db").exists():
        shutil.copyfile(_empty_tracking_database(), folder / "mlflow.db")


def study_storage(folder: Path, spec_name: str, profile: str = "default") -> str:
    return f"sqlite:///{(folder / 'state' / spec_name / profile / 'optuna.db').resolve()}"


def run_sweep(command: list[str], timeout: float = 240,
              environment: dict[str, str] | None = None, cwd: Path = PROJECT_ROOT
              ) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                               timeout=timeout, env={**os.environ, "PYTHONHASHSEED": "0",
                                                     **(environment or {})})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def start_sweep(command: list[str]) -> subprocess.Popen:
    """The sweep in its own process group, so that the test can kill all of it at once."""
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def optuna_states(storage: str, study_name: str) -> dict[str, list[TrialState]]:
    study = optuna.load_study(study_name=study_name, storage=storage)
    states: dict[str, list[TrialState]] = {}
    for trial in study.get_trials(deepcopy=False):
        states.setdefault(trial.user_attrs["trial_key"], []).append(trial.state)
    return states


def mlflow_runs(folder: Path, experiment: str, role: str = "trial") -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri(folder))
    found = client.get_experiment_by_name(experiment)
    return list(client.search_runs([found.experiment_id], f"tags.`harness.role` = '{role}'"))


def assert_each_trial_done_once(folder: Path, storage: str, study_name: str, experiment: str,
                                keys: list[str]) -> None:
    """One COMPLETE Optuna trial and one FINISHED MLflow run per key, and nothing pending."""
    states = optuna_states(storage, study_name)
    assert sorted(states) == sorted(keys)
    for key, key_states in states.items():
        assert key_states.count(TrialState.COMPLETE) == 1, (key, key_states)
        assert not {TrialState.WAITING, TrialState.RUNNING} & set(key_states), (key, key_states)
    runs = mlflow_runs(folder, experiment)
    per_key = Counter(run.data.tags["trial_key"] for run in runs)
    assert per_key == Counter(keys), per_key
    assert {run.info.status for run in runs} == {"FINISHED"}
