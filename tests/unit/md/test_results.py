"""Result rows, the stable fractions per step size, and the files they are written to."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from harness.md.results import summarise, write_results
from harness.md.tracking import md_metrics


def row(method: str, step_fs: float, seed: int, distance: int | None, bond: int | None
        ) -> dict:
    stable = distance is None and bond is None
    return {"method": method, "ensemble": "langevin", "step_fs": step_fs, "seed": seed,
            "stable": stable, "stable_max_distance": distance is None,
            "stable_bonds": bond is None,
            "time_to_failure_ps": 1.0 if stable else min(s for s in (distance, bond)
                                                          if s is not None) * 1e-3,
            "hr_mae": 0.1 * (seed + 1), "energy_drift_per_atom_per_ps": math.nan,
            "steps_per_second": 100.0}


ROWS = [row("asteroid", 0.5, 0, None, None), row("asteroid", 0.5, 1, None, None),
        row("asteroid", 2.0, 0, None, 300), row("asteroid", 2.0, 1, 500, 400),
        row("standard", 0.5, 0, 200, 100), row("standard", 0.5, 1, None, None)]


def test_stable_fractions_per_method_and_step_size_for_each_criterion() -> None:
    summary = {(entry["method"], entry["step_fs"]): entry for entry in summarise(ROWS)}
    assert summary["asteroid", 0.5]["stable_fraction"] == 1.0
    big_steps = summary["asteroid", 2.0]
    assert big_steps["stable_fraction"] == 0.0
    assert big_steps["stable_fraction_max_distance"] == 0.5
    assert big_steps["stable_fraction_bonds"] == 0.0
    assert big_steps["mean_time_to_failure_ps"] == pytest.approx(0.35)
    assert summary["standard", 0.5]["stable_fraction"] == 0.5
    assert summary["standard", 0.5]["mean_hr_mae"] == pytest.approx(0.15)
    assert math.isnan(summary["standard", 0.5]["mean_energy_drift_per_atom_per_ps"])


def test_results_files_hold_every_row_and_strict_json(tmp_path: Path) -> None:
    csv_path, json_path = write_results(ROWS, tmp_path / "out" / "md")
    assert len(pd.read_csv(csv_path)) == len(ROWS)
    content = json.loads(json_path.read_text())  # NaN would not be strict JSON
    assert len(content["rows"]) == len(ROWS) and len(content["summary"]) == 3
    assert content["rows"][0]["energy_drift_per_atom_per_ps"] is None


def test_mlflow_metrics_follow_the_contract_and_skip_missing_values() -> None:
    metrics = md_metrics(ROWS[2])
    assert metrics["md.stable"] == 0.0 and metrics["md.time_to_failure_ps"] == 0.3
    assert {"md.hr_mae", "md.steps_per_second", "md.stable_bonds"} <= set(metrics)
    assert "md.energy_drift_per_atom_per_ps" not in metrics
