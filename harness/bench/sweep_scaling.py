"""``harness bench sweep``: the harness's own cost per trial and what a second worker buys.

Runs one sweep spec (by default its smoke profile) from scratch with each worker count in a
throw-away folder of its own (Optuna study, MLflow store, trial folders), then reads the
study's ledger: every finished trial records ``trial_seconds`` (claim to tell),
``overhead_seconds`` (the worker's part outside the training run: claiming, MLflow runs,
Optuna bookkeeping) and ``outside_fit_seconds`` (everything but the optimiser loops: data,
splits, graphs, bias evaluation, test metrics, artifacts, and the worker's part). The
speed-up is the wall time with one worker over the wall time with N.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.sweeps.plan import make_plan
from harness.sweeps.runner import run_sweep, state_dir_of
from harness.sweeps.spec import load_spec
from harness.sweeps.study import (
    completed,
    default_storage,
    key_states,
    open_storage,
    open_study,
    study_name,
)


@dataclass(frozen=True)
class ScalingRow:
    workers: int
    n_trials: int
    n_complete: int
    wall_seconds: float
    mean_trial_seconds: float
    mean_overhead_seconds: float
    mean_outside_fit_seconds: float


def _ledger(spec_path: str, profile: str, state_root: Path
            ) -> tuple[list[float], list[float], list[float]]:
    """Seconds per finished trial, its worker overhead and its time outside ``fit``."""
    spec = load_spec(spec_path, profile)
    plan = make_plan(spec, spec_path)
    storage = open_storage(default_storage(state_dir_of(spec, state_root)), spec.scheduling)
    study = open_study(storage, study_name(spec))
    finished = [completed(attempts) for attempts in key_states(study, plan).values()]
    finished = [trial for trial in finished if trial is not None]
    return tuple([trial.user_attrs[name] for trial in finished] for name in
                 ("trial_seconds", "overhead_seconds", "outside_fit_seconds"))


def measure(spec_path: str, profile: str, workers: int, scratch: Path) -> ScalingRow:
    """One fresh run of the sweep with ``workers`` workers in ``scratch``."""
    state_root = scratch / "state"
    tracking_uri = f"sqlite:///{(scratch / 'mlflow.db').resolve()}"
    started = time.perf_counter()
    summary = run_sweep(spec_path, profile, workers, None, tracking_uri, state_root,
                        progress=False)
    wall = time.perf_counter() - started
    seconds = _ledger(spec_path, profile, state_root)
    return ScalingRow(workers, summary.n_trials, summary.n_complete, wall,
                      *(float(np.mean(values)) if values else float("nan") for values in seconds))


def run_scaling(spec_path: str, profile: str, worker_counts: list[int]) -> list[ScalingRow]:
    rows = []
    for workers in worker_counts:
        with tempfile.TemporaryDirectory(prefix=f"sweep-bench-{workers}w-") as scratch:
            rows.append(measure(spec_path, profile, workers, Path(scratch)))
    return rows


def format_rows(rows: list[ScalingRow]) -> str:
    base = next((row.wall_seconds for row in rows if row.workers == 1), None)
    lines = ["| workers | trials done | wall s | speed-up | s / trial | worker overhead s / trial "
             "| s / trial outside fit |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        speedup = f"{base / row.wall_seconds:.2f}x" if base else "-"
        lines.append(f"| {row.workers} | {row.n_complete}/{row.n_trials} | "
                     f"{row.wall_seconds:.0f} | {speedup} | {row.mean_trial_seconds:.1f} | "
                     f"{row.mean_overhead_seconds:.2f} | {row.mean_outside_fit_seconds:.1f} |")
    return "\n".join(lines)
