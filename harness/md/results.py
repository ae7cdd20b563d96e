"""Trajectories as result rows, the stable fractions per step size, and the results files.

A row is one seeded trajectory (flat, CSV-friendly); the summary groups rows by arm (label,
when rows have one), method, ensemble and step size (Figure 6b: the stable fraction over seeds
for each step size). Units are in the column names: fs, ps, K, 1/fs, kcal/mol/atom/ps;
``hr_mae`` is dimensionless; ``steps_per_second`` is the wall speed of the batch a trajectory
ran in (times ``replicas_in_batch`` for the trajectories advanced per second).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.md.observables import (
    distance_histogram,
    energy_drift_per_atom_per_ps,
    hr_mae,
    kinetic_temperature_K,
)
from harness.md.reference import Reference
from harness.md.runner import Trajectory

GROUP_COLUMNS = ("label", "method", "ensemble", "step_fs")
# Columns of the results table in this order, then the others alphabetically, so that the
# file looks the same whether its rows were just computed or read back from a finished cell.
LEADING_COLUMNS = ("sweep", "label", "method", "model", "molecule", "training_seed", "ensemble",
                   "step_fs", "seed", "stable", "stable_max_distance", "stable_bonds",
                   "time_to_failure_ps", "hr_mae", "energy_drift_per_atom_per_ps",
                   "steps_per_second")


def trajectory_row(trajectory: Trajectory, reference: Reference) -> dict[str, Any]:
    """Stability, failure times, h(r) error, drift (NVE only), temperature and speed."""
    settings = trajectory.settings
    n_atoms = len(reference.atomic_numbers)
    n_frames = len(trajectory.times_ps)
    histogram = distance_histogram(trajectory.positions, reference.histogram_settings)
    drift = (energy_drift_per_atom_per_ps(trajectory.times_ps, trajectory.total_energies,
                                          n_atoms) if settings.ensemble == "nve" else math.nan)
    temperatures = kinetic_temperature_K(trajectory.kinetic_energies, n_atoms)
    return {
        "ensemble": settings.ensemble, "step_fs": settings.step_fs, "seed": trajectory.seed,
        "temperature_K": settings.temperature_K,
        "friction_per_fs": settings.effective_friction_per_fs,
        "steps": settings.steps, "duration_ps": settings.duration_ps,
        "stable": trajectory.stable,
        "stable_max_distance": trajectory.distance_failure_step is None,
        "stable_bonds": trajectory.bond_failure_step is None,
        "distance_failure_step": trajectory.distance_failure_step,
        "bond_failure_step": trajectory.bond_failure_step,
        "time_to_failure_ps": trajectory.time_to_failure_ps,
        "n_frames": n_frames,
        "hr_mae": hr_mae(histogram, reference.histogram, reference.histogram_settings)
        if n_frames else math.nan,
        "energy_drift_per_atom_per_ps": drift,
        "mean_temperature_K": float(np.mean(temperatures[1:])) if n_frames > 1 else math.nan,
        "steps_per_second": trajectory.steps_per_second,
        "replicas_in_batch": trajectory.replicas_in_batch,
    }


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method, ensemble and step size: stable fractions (either criterion, and each one
    alone), time to failure, h(r) error over trajectories with frames, drift, speed."""
    table = pd.DataFrame(rows)
    keys = [column for column in GROUP_COLUMNS if column in table]
    summary = []
    for values, group in table.groupby(keys, sort=True):
        failed = group.loc[~group["stable"], "time_to_failure_ps"]
        summary.append({
            **dict(zip(keys, values, strict=True)),
            "n_trajectories": len(group),
            "stable_fraction": float(group["stable"].mean()),
            "stable_fraction_max_distance": float(group["stable_max_distance"].mean()),
            "stable_fraction_bonds": float(group["stable_bonds"].mean()),
            "mean_time_to_failure_ps": float(group["time_to_failure_ps"].mean()),
            "median_failure_time_of_failed_ps": float(failed.median()) if len(failed)
            else math.nan,
            "mean_hr_mae": _mean(group["hr_mae"]),
            "mean_energy_drift_per_atom_per_ps": _mean(group["energy_drift_per_atom_per_ps"]),
            "mean_steps_per_second": _mean(group["steps_per_second"]),
        })
    return summary


def _mean(values: pd.Series) -> float:
    finite = values.astype(float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if len(finite) else math.nan


def write_results(rows: list[dict[str, Any]], path_stem: Path) -> list[Path]:
    """``STEM.csv`` (one row per trajectory) and ``STEM.json`` ({summary, rows})."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = path_stem.with_suffix(".csv"), path_stem.with_suffix(".json")
    table = pd.DataFrame(rows)
    leading = [column for column in LEADING_COLUMNS if column in table]
    table = table[leading + sorted(set(table.columns) - set(leading))]
    table.to_csv(csv_path, index=False)
    content = {"summary": summarise(rows), "rows": table.to_dict(orient="records")}
    json_path.write_text(json.dumps(json_safe(content), indent=2) + "\n")
    return [csv_path, json_path]


def json_safe(value: Any) -> Any:
    """NaN becomes null (strict JSON), numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
