"""A synthetic MLflow record shaped exactly as the contract in .agents/COMMON.md says.

Sweep ``toy`` on ethanol/egnn (accurate level ccsd): standard training at budgets 25 and 100,
ASTEROID with xtb labels at gammas 0.5 and 2 (seed 0 chose 0.5, seed 1 chose 2) with a bias
artifact, the two ablations, Delta-ML, one failed ASTEROID trial and one stale KILLED run.
Experiment ``toy-md`` holds MD runs of standard and ASTEROID at two step sizes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report.collect import (
    MD_METRICS,
    MD_PARAMS,
    MD_TAGS,
    TRIAL_METRICS,
    TRIAL_TAGS,
    typed_md,
    typed_trials,
)

MOLECULE, MODEL = "ethanol", "egnn"
METRICS = {"force_mae": "test.force_mae", "force_rmse": "test.force_rmse",
           "energy_mae": "test.energy_mae", "validation_loss": "validation_loss",
           "wall_seconds": "wall_seconds",
           "stages_still_improving": "training.stages_still_improving",
           "fine_tuning_worse": "training.fine_tuning_worse_than_stage1",
           "kept_stage1": "training.kept_stage1"}


def trial(method: str, budget: float, seed: int, force_mae: float, *, level: str = "xtb",
          ratio: str = "measured", gamma: float | None = None, selected: bool = True,
          status: str = "FINISHED", sweep: str = "toy", molecule: str = MOLECULE,
          model: str = MODEL, accurate_level: str = "ccsd", reason: str = "",
          still_improving: int = 0) -> dict[str, Any]:
    """One trial run: its contract tags (strings) and metrics."""
    gamma_text = "" if gamma is None else f"{gamma:g}"
    key = (f"{molecule}/{method}/{level}/b{budget:g}/r{ratio}"
           + (f"/g{gamma_text}" if gamma_text else "") + f"/s{seed}")
    tags = {"sweep": sweep, "profile": "default", "molecule": molecule, "model": model,
            "method": method, "budget": f"{budget:g}", "cost_ratio": ratio,
            "accurate_level": accurate_level, "inaccurate_level": level, "gamma": gamma_text,
            "seed": str(seed), "trial_key": key, "git_sha": "abc", "data_version": "d1",
            "selected": "true" if selected else "false"}
    if reason:
        tags["failure_reason"] = reason
    metrics = {} if status == "FAILED" else {
        "force_mae": force_mae, "force_rmse": 1.3 * force_mae, "energy_mae": 0.1 * force_mae,
        "validation_loss": force_mae ** 2, "wall_seconds": 10.0 + seed,
        "stages_still_improving": float(still_improving)}
    return {"tags": tags, "metrics": metrics, "status": status}


def standard(budget: float, seed: int, force_mae: float, **options: Any) -> dict[str, Any]:
    return trial("standard", budget, seed, force_mae, level="", ratio="", **options)


def toy_trials() -> list[dict[str, Any]]:
    runs = [standard(25, 0, 1.00), standard(25, 1, 1.10),
            standard(100, 0, 0.60), standard(100, 1, 0.64)]
    chosen = {0: 0.5, 1: 2.0}
    values = {(25, 0.5): (0.60, 0.95), (25, 2.0): (0.90, 0.70),
              (100, 0.5): (0.40, 0.50), (100, 2.0): (0.45, 0.44)}
    for (budget, gamma), by_seed in values.items():
        for seed, value in enumerate(by_seed):
            runs.append(trial("asteroid", budget, seed, value, gamma=gamma,
                              selected=chosen[seed] == gamma))
    runs += [trial("asteroid", 25, 2, math.nan, gamma=0.5, selected=False, status="FAILED",
                   reason="NaN loss in stage 2"),
             trial("no_bat", 25, 0, 0.80), trial("no_bat", 25, 1, 0.84),
             trial("no_ft", 25, 0, 2.0, gamma=0.5), trial("no_ft", 25, 1, 2.2, gamma=0.5),
             trial("delta_ml", 25, 0, 0.30), trial("delta_ml", 25, 1, 0.34)]
    return runs


def toy_md_runs() -> list[dict[str, Any]]:
    runs = []
    for method, stable_at in (("standard", {0.5: 3, 2.0: 1}), ("asteroid", {0.5: 4, 2.0: 3})):
        for step, n_stable in stable_at.items():
            for seed in range(4):
                stable = seed < n_stable
                runs.append({"tags": {"method": method, "step_size_fs": f"{step:g}",
                                      "seed": str(seed), "model_run_id": "m1",
                                      "training_seed": "0", "molecule": MOLECULE,
                                      "sweep": "toy-md"},
                             "params": {"duration_ps": "1.0", "temperature_K": "500.0"},
                             "metrics": {"md.stable": float(stable),
                                         "md.time_to_failure_ps": 1.0 if stable else 0.4,
                                         "md.steps_per_second": 900.0, "md.hr_mae": 0.05,
                                         "md.energy_drift_per_atom_per_ps": 0.001},
                             "status": "FINISHED"})
    return runs


def frame_of(runs: list[dict[str, Any]], experiment: str = "toy") -> pd.DataFrame:
    """The typed trial frame ``collect`` would read for ``runs`` (no MLflow involved)."""
    records = []
    for index, run in enumerate(runs):
        records.append({"experiment": experiment, "run_id": f"run{index}",
                        "status": run["status"], "start_time": index,
                        "failure_reason": "", **run["tags"],
                        **{column: run["metrics"].get(column, math.nan) for column in METRICS}})
    columns = ["experiment", "run_id", "status", "start_time", *TRIAL_TAGS,
               *TRIAL_METRICS.values()]
    return typed_trials(pd.DataFrame.from_records(records, columns=columns))


def md_frame_of(runs: list[dict[str, Any]], experiment: str = "toy-md") -> pd.DataFrame:
    """The typed MD frame ``collect`` would read for ``runs``."""
    records = []
    for index, run in enumerate(runs):
        records.append({"experiment": experiment, "run_id": f"md{index}",
                        "status": run["status"], "start_time": index, "model": MODEL,
                        "label": "", "budget": "", **run["tags"], **run.get("params", {}),
                        **{key.removeprefix("md."): value
                           for key, value in run["metrics"].items()}})
    columns = ["experiment", "run_id", "status", "start_time", *MD_TAGS, *MD_METRICS.values(),
               *MD_PARAMS]
    return typed_md(pd.DataFrame.from_records(records, columns=columns))


def bias_table(seed: int, gamma: float) -> dict[str, np.ndarray]:
    bias = np.random.default_rng(seed).gamma(2.0, 0.5, size=40)
    return {"frame_id": np.arange(40), "bias": bias, "bias_used": bias / np.median(bias),
            f"weight_gamma{gamma:g}": np.exp(-bias / np.median(bias) / gamma)}


def _log(client: Any, experiment_id: str, runs: list[dict[str, Any]], role: str,
         folder: Path, parent: str | None = None) -> None:
    from mlflow.entities import Metric, Param, RunTag

    for run in runs:
        tags = {**run["tags"], "harness.role": role}
        if parent is not None:
            tags["mlflow.parentRunId"] = parent
        run_id = client.create_run(experiment_id, tags=tags).info.run_id
        client.log_batch(run_id, metrics=[Metric(METRICS.get(name, name), value, 0, 0)
                                          for name, value in run["metrics"].items()],
                         params=[Param(key, value)
                                 for key, value in run.get("params", {}).items()],
                         tags=[RunTag(key, value) for key, value in tags.items()])
        gamma = run["tags"].get("gamma", "")
        if run["tags"].get("method") == "asteroid" and gamma and run["status"] == "FINISHED":
            npz = folder / f"{run_id}.npz"
            np.savez(npz, **bias_table(int(run["tags"]["seed"]), float(gamma)))
            staged = folder / run_id / "bias_weights.npz"
            staged.parent.mkdir()
            npz.rename(staged)
            client.log_artifact(run_id, str(staged), "bias")
        client.set_terminated(run_id, status=run["status"])


def write_store(folder: Path) -> str:
    """A SQLite store with experiments ``toy`` (trials and their cells, a stale KILLED run)
    and ``toy-md`` (MD runs) and an unrelated ``other``; returns its tracking URI."""
    from mlflow.tracking import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = (folder / "mlartifacts").resolve().as_uri()
    toy = client.create_experiment("toy", artifact_location=artifacts)
    cell = client.create_run(toy, tags={"harness.role": "cell", "sweep": "toy"}).info.run_id
    runs = toy_trials()
    stale = trial("standard", 25, 0, 9.9, level="", ratio="", status="KILLED")
    _log(client, toy, [stale], "trial", folder, cell)
    _log(client, toy, runs, "trial", folder, cell)
    _log(client, client.create_experiment("toy-md", artifact_location=artifacts),
         toy_md_runs(), "md", folder)
    client.create_experiment("other", artifact_location=artifacts)
    return uri
