"""The report's PNG figures (matplotlib, Agg): analogues of the paper's Figures 3-4, 6b, 7a
and 7b, and histograms of the bias and weights. Force errors in kcal/mol/A, step sizes in fs,
budgets in accurate-label equivalents; error bars are one standard deviation over seeds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report.bias import weight_column
from harness.report.document import Figure
from harness.report.summary import STANDARD, UNIT, number_text, ratio_number, seed_summary
from harness.report.tables import (
    accuracy_groups,
    cost_ratio_groups,
    describe,
    gamma_groups,
    md_groups,
)

MAE_LABEL = f"test force MAE ({UNIT})"
BUDGET_LABEL = "budget (accurate-label equivalents)"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def _save(figure: Any, folder: Path, stem: str) -> str:
    """Writes ``folder/<stem>.png``; returns its path relative to the report folder."""
    path = folder / f"{slug(stem)}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return f"{folder.name}/{path.name}"


def _errorbar(axis: Any, x: pd.Series, summary: pd.DataFrame, label: str) -> Any:
    return axis.errorbar(x, summary["mean"], yerr=summary["std"].fillna(0.0), marker="o",
                         capsize=3, label=label)


def budget_figures(trials: pd.DataFrame, folder: Path) -> list[Figure]:
    """Figures 3-4 analogue: force MAE against budget, one line per method and cost ratio."""
    plt = _pyplot()
    figures = []
    for group in accuracy_groups(trials):
        figure, axis = plt.subplots(figsize=(6, 4))
        summary = seed_summary(group.frame, ["method", "cost_ratio", "budget"])
        for (method, ratio), line in summary.groupby(["method", "cost_ratio"], sort=False):
            line = line.sort_values("budget")
            label = ", ".join(part for part in (method, describe("cost_ratio", ratio)) if part)
            _errorbar(axis, line["budget"], line, label)
        axis.set(xlabel=BUDGET_LABEL, ylabel=MAE_LABEL, title=group.name)
        axis.legend()
        figures.append(Figure(_save(figure, folder, f"force-mae-vs-budget {group.name}"),
                              f"Force MAE against budget ({group.name})."))
    return figures


def _lines_by_budget(axis: Any, frame: pd.DataFrame, x_column: str) -> None:
    """Force MAE against ``x_column`` (log scale), one line per budget, and standard training
    at each budget as a dashed horizontal line in that budget's colour."""
    colours = {}
    varied = frame[frame["method"] != STANDARD]
    for budget, runs in varied.groupby("budget"):
        summary = seed_summary(runs, [x_column]).sort_values(x_column)
        line = _errorbar(axis, summary[x_column], summary, describe("budget", budget))
        colours[budget] = line.lines[0].get_color()
    for budget, runs in frame[frame["method"] == STANDARD].groupby("budget"):
        axis.axhline(runs["force_mae"].mean(), linestyle="--", color=colours.get(budget),
                     label=f"standard, {describe('budget', budget)}")
    axis.set(xscale="log", ylabel=MAE_LABEL)
    axis.legend(fontsize="small")


def gamma_figures(trials: pd.DataFrame, folder: Path) -> list[Figure]:
    """Figure 7a analogue: force MAE against gamma per budget; standard training dashed."""
    plt = _pyplot()
    figures = []
    for group in gamma_groups(trials):
        figure, axis = plt.subplots(figsize=(6, 4))
        _lines_by_budget(axis, group.frame, "gamma")
        gammas = sorted(group.frame["gamma"].dropna().unique())
        axis.set(xlabel="γ", title=group.name)
        axis.set_xticks(gammas, [number_text(gamma) for gamma in gammas])
        axis.minorticks_off()
        figures.append(Figure(_save(figure, folder, f"gamma {group.name}"),
                              f"Gamma sensitivity ({group.name})."))
    return figures


def cost_ratio_figures(trials: pd.DataFrame, folder: Path) -> list[Figure]:
    """Figure 7b analogue: force MAE against the numeric cost ratios per budget."""
    plt = _pyplot()
    figures = []
    for group in cost_ratio_groups(trials):
        frame = group.frame.assign(ratio=group.frame["cost_ratio"].map(ratio_number))
        rated = frame[(frame["method"] != STANDARD) & np.isfinite(frame["ratio"])]
        if rated["ratio"].nunique() < 2:
            continue
        figure, axis = plt.subplots(figsize=(6, 4))
        _lines_by_budget(axis, pd.concat([rated, frame[frame["method"] == STANDARD]]), "ratio")
        axis.set(xlabel="cost ratio (inaccurate labels per accurate label)", title=group.name)
        figures.append(Figure(_save(figure, folder, f"cost-ratio {group.name}"),
                              f"Force MAE against cost ratio ({group.name})."))
    return figures


def md_figures(md: pd.DataFrame, folder: Path) -> list[Figure]:
    """Figure 6b analogue: stable fraction against step size, one line per method."""
    plt = _pyplot()
    figures = []
    for group in md_groups(md):
        figure, axis = plt.subplots(figsize=(6, 4))
        for arm, runs in group.frame.groupby("arm", sort=False):
            fractions = runs.groupby("step_size_fs")["stable"].mean()
            axis.plot(fractions.index, fractions.values, marker="o", label=arm)
        axis.set(xlabel="step size (fs)", ylabel="stable fraction", ylim=(-0.05, 1.05),
                 title=group.name)
        axis.legend()
        figures.append(Figure(_save(figure, folder, f"md-stability {group.name}"),
                              f"Stable fraction against step size ({group.name})."))
    return figures


def bias_figures(statistics: pd.DataFrame, bias_tables: dict[str, dict[str, np.ndarray]],
                 folder: Path) -> list[Figure]:
    """Histograms of B per budget (one trial per cell and seed: the gammas share stage 1) and
    of the weights per gamma, per sweep, molecule, model and inaccurate level."""
    plt = _pyplot()
    figures = []
    keys = ["sweep", "molecule", "model", "inaccurate_level"]
    for names, runs in statistics.groupby(keys, sort=False):
        name = f"{names[0]}: {', '.join(names[1:])}"
        figure, (bias_axis, weight_axis) = plt.subplots(1, 2, figsize=(10, 4))
        for budget, cells in runs.groupby("budget"):
            first = cells.drop_duplicates(["method", "seed"])["run_id"]
            values = np.concatenate([bias_tables[run_id]["bias"] for run_id in first])
            bias_axis.hist(values, bins=50, histtype="step", density=True,
                           label=describe("budget", budget))
        for gamma, cells in runs.groupby("gamma"):
            weights = [bias_tables[run_id].get(weight_column(gamma))
                       for run_id in cells["run_id"]]
            present = [values for values in weights if values is not None]
            if present:
                weight_axis.hist(np.concatenate(present), bins=50, range=(0, 1),
                                 histtype="step", label=f"γ={number_text(gamma)}")
        bias_axis.set(xlabel=f"bias B ({UNIT})", ylabel="density of inaccurate frames",
                      title=name)
        bias_axis.legend()
        weight_axis.set(xlabel="weight exp(-B/γ)", ylabel="inaccurate frames")
        if weight_axis.get_legend_handles_labels()[0]:
            weight_axis.legend()
        figures.append(Figure(_save(figure, folder, f"bias-weights {name}"),
                              f"Bias and weight histograms ({name})."))
    return figures
