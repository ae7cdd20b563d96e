"""The measured table of the training-engine issue: force MAE of each method at equal data cost.

On the embedded ethanol data, at budgets counted in CCSD-label equivalents with the measured
cost ratios (``dataset.json``), for each seed:

- standard: ``budget`` CCSD frames;
- asteroid_<level> (xtb, mmff94): ``budget - 1`` CCSD frames and ``n_cheap`` frames labelled
  at that level, whose cost (``n_cheap / ratio``) stays below the one CCSD label given up;
- no_bat_xtb: the same data as asteroid_xtb with uniform weights (the paper's ablation);
- score_matching: ``budget`` CCSD frames and ``n_cheap`` unlabeled configurations, counted
  free as in the paper: every method's frames come from the same sampled trajectory;
- delta_ml: ``budget - 1`` CCSD frames paired with their xTB labels (and xTB at inference).

Gamma is chosen on the validation frames, never the test frames: seed 0 of each (level,
budget) runs the whole gamma grid and the other seeds reuse its choice. Every run is one
``harness train`` process with its own folder under ``runs/<table>/``; a finished run
(``results.json``) is skipped and an unfinished one resumes from its checkpoints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

ASTEROID_LEVELS = ("xtb", "mmff94")


@dataclass(frozen=True)
class TableSettings:
    """Sizes of the measurement; ``SMOKE`` shrinks them to seconds for the tests."""

    dataset: str = "data/ethanol"
    budgets: tuple[int, ...] = (25, 50, 100)
    seeds: tuple[int, ...] = (0, 1, 2)
    gammas: tuple[float, ...] = (0.5, 2.0)
    n_cheap: int = 4000
    n_validation: int = 50
    n_test: int = 500
    model: dict[str, Any] = field(
        default_factory=lambda: {"name": "egnn",
                                 "hyperparameters": {"n_features": 64, "n_layers": 3}})
    accurate_steps: int = 1200
    cheap_steps: int = 1200
    fine_tune_steps: int = 800
    methods: tuple[str, ...] = ("standard", "asteroid_xtb", "asteroid_mmff94", "score_matching",
                                "delta_ml")


SMOKE = TableSettings(budgets=(6,), seeds=(0, 1), n_cheap=40, n_validation=5,
                      n_test=10, accurate_steps=4, cheap_steps=4, fine_tune_steps=4,
                      model={"name": "egnn", "hyperparameters": {"n_features": 8, "n_layers": 1}})


@dataclass(frozen=True)
class TableRun:
    run_id: str
    label: str
    budget: int
    seed: int
    config: dict[str, Any]
    gamma_from: str | None = None  # the seed-0 run whose chosen gamma this run reuses


def _schedule(learning_rate: float, batch_size: int, steps: int) -> dict:
    return {"learning_rate": learning_rate, "batch_size": batch_size, "max_steps": steps}


def base_config(settings: TableSettings, name: str, method: str, seed: int) -> dict[str, Any]:
    return {
        "name": name, "method": method, "seed": seed, "cpu_threads": 1, "progress": False,
        "data": {"accurate": {"path": settings.dataset, "level": "ccsd"},
                 "n_validation": settings.n_validation, "n_test": settings.n_test},
        "model": settings.model,
        "loss": {"rho": 0.001, "force_loss": "mse", "energy_loss": "mse"},
        "schedules": {
            "accurate": _schedule(1e-3, 10, settings.accurate_steps),
            "inaccurate": _schedule(1e-3, 32, settings.cheap_steps),
            "unlabeled": _schedule(1e-3, 32, settings.cheap_steps),
            "fine_tune": _schedule(3e-4, 10, settings.fine_tune_steps),
        },
        "asteroid": {"gammas": list(settings.gammas), "normalise_bias": True},
        "tracking": {"enabled": False},
    }


def _method_data(label: str, budget: int, settings: TableSettings) -> tuple[str, dict]:
    """The method name and the data block of one table column at one budget."""
    if label == "standard":
        return "standard", {"n_accurate_train": budget}
    if label == "score_matching":
        return "score_matching", {"n_accurate_train": budget, "n_inaccurate_train":
                                  settings.n_cheap, "inaccurate": {"path": settings.dataset,
                                                                   "level": "unlabeled"}}
    if label == "delta_ml":
        return "delta_ml", {"n_accurate_train": budget - 1,
                            "inaccurate": {"path": settings.dataset, "level": "xtb"}}
    method, level = label.rsplit("_", 1)
    return method, {"n_accurate_train": budget - 1, "n_inaccurate_train": settings.n_cheap,
                    "inaccurate": {"path": settings.dataset, "level": level}}


def plan(settings: TableSettings) -> list[TableRun]:
    """Every run, gamma-choosing seed-0 runs before the runs that reuse their choice."""
    first_seed = settings.seeds[0]
    runs: list[TableRun] = []
    for seed in settings.seeds:
        for budget in settings.budgets:
            for label in settings.methods:
                method, data = _method_data(label, budget, settings)
                run_id = f"{label}-b{budget}-s{seed}"
                config = base_config(settings, run_id, method, seed)
                config["data"].update(data)
                gamma_from = None
                if method == "asteroid" and seed != first_seed:
                    gamma_from = f"{label}-b{budget}-s{first_seed}"
                runs.append(TableRun(run_id, label, budget, seed, config, gamma_from))
    return runs


def _results(folder: Path, run_id: str) -> dict[str, Any] | None:
    path = folder / run_id / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def execute(run: TableRun, folder: Path) -> dict[str, Any]:
    """One ``harness train`` process; skipped when its results exist."""
    done = _results(folder, run.run_id)
    if done is not None:
        return done
    config = run.config
    if run.gamma_from is not None:
        chosen = _results(folder, run.gamma_from)["details"]["chosen_gamma"]
        config = {**config, "asteroid": {**config["asteroid"], "gammas": [chosen]}}
    config_path = folder / f"{run.run_id}.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    completed = subprocess.run(
        [sys.executable, "-m", "harness.cli", "train", str(config_path), "--output",
         str(folder / run.run_id)], capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{run.run_id} failed: {completed.stderr.strip()[-2000:]}")
    return _results(folder, run.run_id)


def run_table(settings: TableSettings, folder: Path, workers: int = 2) -> pd.DataFrame:
    """Run (or resume) every run with ``workers`` processes; returns one row per run."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = plan(settings)
    choosing = [run for run in runs if run.gamma_from is None]
    reusing = [run for run in runs if run.gamma_from is not None]
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(runs), desc="table runs") as bar:
        for phase in (choosing, reusing):
            for _ in pool.map(lambda run: execute(run, folder), phase):
                bar.update()
    return collect(runs, folder)


def collect(runs: list[TableRun], folder: Path) -> pd.DataFrame:
    """One row per finished run, with the budget it actually spent (measured cost ratios)."""
    rows = []
    for run in runs:
        results = _results(folder, run.run_id)
        if results is None:
            continue
        details, data = results["details"], results["data"]
        rows.append({
            "method": run.label, "budget": run.budget, "seed": run.seed,
            "budget_spent": _budget_spent(run, data),
            "n_accurate_train": data["n_accurate_train"],
            "n_inaccurate_train": data.get("n_inaccurate_train", 0),
            "gamma": details.get("chosen_gamma"),
            "bias_median": details.get("bias_median"),
            "bias_spearman": _bias_spearman(run, folder),
            "force_mae": results["test"]["force_mae"],
            "force_rmse": results["test"]["force_rmse"],
            "energy_mae": results["test"]["energy_mae"],
            "wall_seconds": results["wall_seconds"],
        })
    return pd.DataFrame(rows)


@lru_cache(maxsize=2)
def _levels(dataset: str) -> dict[str, Any]:
    from harness.data.readers import load_any

    return load_any(dataset).levels


def _bias_spearman(run: TableRun, folder: Path) -> float | None:
    """Rank correlation of stage 1's B with the true cheap-level error (``bias_quality``)."""
    from harness.bench.bias_quality import bias_quality

    table = folder / run.run_id / "bias" / "bias_weights.npz"
    if not table.exists():
        return None
    levels = _levels(run.config["data"]["accurate"]["path"])
    quality = bias_quality(table, levels["ccsd"], levels[run.config["data"]["inaccurate"]["level"]])
    return quality.get("spearman_bias_vs_true")


@lru_cache(maxsize=4)
def measured_ratios(dataset: str) -> dict[str, float]:
    """CPU-seconds of a CCSD label over those of each labelled level's label."""
    from harness.data.budget import measured_cost_ratio

    levels = _levels(dataset)
    return {name: measured_cost_ratio(levels["ccsd"], frames)
            for name, frames in levels.items() if frames.is_labelled}


def _budget_spent(run: TableRun, data: dict[str, Any]) -> float:
    """CCSD frames plus cheap labels over the measured ratio; unlabeled frames are free, and
    Delta-ML pays for one xTB label per CCSD frame."""
    inaccurate = run.config["data"].get("inaccurate")
    if inaccurate is None or inaccurate["level"] == "unlabeled":
        return float(data["n_accurate_train"])
    ratio = measured_ratios(run.config["data"]["accurate"]["path"])[inaccurate["level"]]
    cheap = data["n_accurate_train"] if run.label == "delta_ml" else data["n_inaccurate_train"]
    return data["n_accurate_train"] + cheap / ratio


def summary_markdown(table: pd.DataFrame) -> str:
    """Mean ± std of the test force MAE over seeds; change relative to standard training."""
    grouped = table.groupby(["method", "budget"])["force_mae"].agg(["mean", "std", "count"])
    budgets = sorted(table["budget"].unique())
    lines = ["| method | " + " | ".join(f"budget {b}" for b in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    methods = list(dict.fromkeys(table["method"]))
    for method in methods:
        cells = []
        for budget in budgets:
            if (method, budget) not in grouped.index:
                cells.append("-")
                continue
            mean, std, count = grouped.loc[(method, budget)]
            cell = f"{mean:.3f} ± {0.0 if np.isnan(std) else std:.3f}"
            if method != "standard" and ("standard", budget) in grouped.index:
                reference = grouped.loc[("standard", budget), "mean"]
                cell += f" ({100 * (mean - reference) / reference:+.0f}%)"
            cells.append(cell + ("" if count == table["seed"].nunique() else f" [n={count}]"))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n" + _bias_markdown(table)


def _bias_markdown(table: pd.DataFrame) -> str:
    """Median B and its rank correlation with the true cheap-level error, per ASTEROID cell."""
    if "bias_spearman" not in table or table["bias_spearman"].isna().all():
        return ""
    rows = table.dropna(subset=["bias_spearman"]).groupby(["method", "budget"]).agg(
        gamma=("gamma", lambda values: ", ".join(f"{v:g}" for v in sorted(set(values)))),
        bias_median=("bias_median", "mean"), spearman=("bias_spearman", "mean"))
    lines = ["", "Stage-1 bias B against the true cheap-level error (frames with both labels):",
             "", "| method | budget | gamma chosen | median B (kcal/mol/A) | Spearman(B, true) |",
             "|---|---|---|---|---|"]
    for (method, budget), row in rows.iterrows():
        lines.append(f"| {method} | {budget} | {row['gamma']} | {row['bias_median']:.2f} | "
                     f"{row['spearman']:.2f} |")
    return "\n".join(lines) + "\n"


def write_outputs(table: pd.DataFrame, prefix: Path) -> list[Path]:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    csv_path, markdown_path = prefix.with_suffix(".csv"), prefix.with_suffix(".md")
    table.to_csv(csv_path, index=False, float_format="%.6g")
    markdown_path.write_text(summary_markdown(table))
    return [csv_path, markdown_path]
