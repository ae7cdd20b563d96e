"""``harness bench sweep``: the harness's own cost per trial and what a second worker buys.

Runs one sweep spec (by default its smoke profile) from scratch with each worker count in a
throw-away folder of its own (Optuna study, MLflow store, trial folders), then reads the
study's ledger: every finished trial records ``trial_seconds`` (claim to tell) and
``overhead_seconds`` (the part outside training: data, splits, MLflow logging, Optuna
bookkeeping). The speed-up is the wall time with one worker over the wall time with N.
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
    median_overhead_seconds: float


def _ledger(spec_path: str, profile: str, state_root: Path) -> tuple[list[float], list[float]]:
    """Seconds per finished trial and the overhead part of each, from the study."""
    spec = load_spec(spec_path, profile)
    plan = make_plan(spec, spec_path)
    storage = open_storage(default_storage(state_dir_of(spec, state_root)), spec.scheduling)
    study = open_study(storage, study_name(spec))
    finished = [completed(attempts) for attempts in key_states(study, plan).values()]
    finished = [trial for trial in finished if trial is not None]
    return ([trial.user_attrs["trial_seconds"] for trial in finished],
            [trial.user_attrs["overhead_seconds"] for trial in finished])


def measure(spec_path: str, profile: str, workers: int, scratch: Path) -> ScalingRow:
    """One fresh run of the sweep with ``workers`` workers in ``scratch``."""
    state_root = scratch / "state"
    tracking_uri = f"sqlite:///{(scratch / 'mlflow.db').resolve()}"
    started = time.perf_counter()
    summary = run_sweep(spec_path, profile, workers, None, tracking_uri, state_root,
                        progress=False)
    wall = time.perf_counter() - started
    trial_seconds, overheads = _ledger(spec_path, profile, state_root)
    return ScalingRow(workers, summary.n_trials, summary.n_complete, wall,
                      float(np.mean(trial_seconds)) if trial_seconds else float("nan"),
                      float(np.mean(overheads)) if overheads else float("nan"),
                      float(np.median(overheads)) if overheads else float("nan"))


def run_scaling(spec_path: str, profile: str, worker_counts: list[int]) -> list[ScalingRow]:
    rows = []
    for workers in worker_counts:
        with tempfile.TemporaryDirectory(prefix=f"sweep-bench-{workers}w-") as scratch:
            rows.append(measure(spec_path, profile, workers, Path(scratch)))
    return rows


def format_rows(rows: list[ScalingRow]) -> str:
    base = next((row.wall_seconds for row in rows if row.workers == 1), None)
    lines = ["| workers | trials done | wall s | speed-up | s / trial | overhead s / trial "
             "(mean, median) |", "|---|---|---|---|---|---|"]
    for row in rows:
        speedup = f"{base / row.wall_seconds:.2f}x" if base else "-"
        lines.append(f"| {row.workers} | {row.n_complete}/{row.n_trials} | "
                     f"{row.wall_seconds:.0f} | {speedup} | {row.mean_trial_seconds:.1f} | "
                     f"{row.mean_overhead_seconds:.1f}, {row.median_overhead_seconds:.1f} |")
    return "\n".join(lines)
