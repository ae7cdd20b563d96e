"""The report's PNG figures (matplotlib, Agg): analogues of the paper's Figures 3-4, 6b, 7a
and 7b, and histograms of the bias and weights. Force errors in kcal/mol/A, step sizes in fs,
budgets in accurate-label equivalents; force-error bars are one standard deviation over seeds,
stable-fraction bars Wilson 95% intervals over trajectories.

Written for a reader: plain names (``names``), titles wrapped to the figure's width, legends
outside the axes so that they never cover data, and series that share an x value set slightly
apart so that their error bars stay visible.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.mlflow_record import weight_column
from harness.report.document import Figure
from harness.report.evidence import wilson
from harness.report.md_headline import run_length_ps, training_seeds
from harness.report.names import (
    NEEDS_CHEAP_AT_INFERENCE,
    OWN_MODEL,
    gamma_axis_name,
    gamma_grid_name,
    gamma_name,
    level_name,
    method_name,
    model_name,
    setting_name,
)
from harness.report.summary import STANDARD, UNIT, number_text, ratio_number, seed_summary
from harness.report.tables import (
    accuracy_groups,
    cost_ratio_groups,
    describe,
    gamma_groups,
    md_groups,
    scale_of,
)

MAE_LABEL = f"test force MAE ({UNIT})"
BUDGET_LABEL = "budget (accurate-label equivalents)"
TITLE_WIDTH = 60
# What the weights were computed from, by ``asteroid.gamma_scale`` (``_bias_used``)
BIAS_USED = {"median": "B / median B", "effective_sample_size": "B - min B"}
# The bias histogram's axis for each, with per-frame and with per-atom weights
BIAS_USED_LABELS = {"B": f"bias B ({UNIT})",
                    "B / median B": "B used by the weights: B / median B (dimensionless)",
                    "B - min B": f"B used by the weights: B - min B ({UNIT})"}
ATOM_BIAS_USED_LABELS = {
    "B": f"per-atom bias b, mean over each frame's atoms ({UNIT})",
    "B / median B": "per-atom b / median b used by the weights, mean over each frame's atoms",
    "B - min B": f"per-atom b - min b used by the weights, mean over each frame's atoms ({UNIT})"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
DODGE = 0.03  # relative x offset between series on a log axis


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def _save(figure: Any, folder: Path, stem: str) -> str:
    """Writes ``folder/<stem>.png`` with its outside legends; returns its path relative to the
    report folder."""
    path = folder / f"{slug(stem)}.png"
    figure.savefig(path, dpi=100, bbox_inches="tight")
    _pyplot().close(figure)
    return f"{folder.name}/{path.name}"


def _legend_outside(axis: Any) -> None:
    axis.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                fontsize="small")


def _title(axis: Any, text: str) -> None:
    axis.set_title(textwrap.fill(text, TITLE_WIDTH), fontsize="medium")


def _place(frame: pd.DataFrame) -> str:
    """``ethanol, EGNN, GFN2-xTB labels (default sweep)`` from what the frame's runs share."""
    networks = set(frame.loc[~frame["method"].isin(OWN_MODEL), "model"]) - {""}
    levels = set(frame["inaccurate_level"]) - {""}
    parts = [str(frame["molecule"].iloc[0])]
    parts += [model_name(next(iter(networks)))] if len(networks) == 1 else []
    parts += [f"cheap labels {level_name(next(iter(levels)))}"] if len(levels) == 1 else []
    return f"{', '.join(parts)} ({frame['sweep'].iloc[0]} sweep)"


def _dodged(x: pd.Series, index: int, count: int) -> np.ndarray:
    """``x`` moved by a few percent per series, centred, for a log axis."""
    return np.asarray(x, dtype=float) * (1.0 + DODGE) ** (index - (count - 1) / 2)


def _log_ticks(axis: Any, values: list[float]) -> None:
    axis.set_xscale("log")
    axis.set_xticks(values, [number_text(value) for value in values])
    axis.minorticks_off()
    low, high = min(values), max(values)
    axis.set_xlim(low / 1.6, high * 1.6)


def _errorbar(axis: Any, x: Any, summary: pd.DataFrame, label: str, marker: str = "o",
              **style: Any) -> Any:
    return axis.errorbar(x, summary["mean"], yerr=summary["std"].fillna(0.0), marker=marker,
                         capsize=3, label=label, **style)


def _series_name(method: str, level: str, cost_ratio: str, seeds: int) -> str:
    name = setting_name(method, level, cost_ratio)
    if method in NEEDS_CHEAP_AT_INFERENCE:
        name += f", needs {level_name(level)} at inference"
    return f"{name}, {seeds} seed{'s' if seeds != 1 else ''}"


def _with_own_model_baselines(trials: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The group's runs and those of sGDML and ANI-1ccx (their own models) on its molecule."""
    chosen = trials[(trials["status"] == "FINISHED") & trials["force_mae"].notna()
                    & trials["selected"] & trials["method"].isin(OWN_MODEL)
                    & trials["sweep"].isin(frame["sweep"])
                    & trials["molecule"].isin(frame["molecule"])]
    return pd.concat([frame, chosen[~chosen["run_id"].isin(frame["run_id"])]])


def budget_figures(trials: pd.DataFrame, folder: Path) -> list[Figure]:
    """Figures 3-4 analogue: force MAE against budget, one series per method setting, with
    sGDML and ANI-1ccx beside the networks; standard training in black."""
    plt = _pyplot()
    figures = []
    for group in accuracy_groups(trials):
        frame = _with_own_model_baselines(trials, group.frame)
        figure, axis = plt.subplots(figsize=(6, 4))
        keys = ["method", "inaccurate_level", "cost_ratio"]
        summary = seed_summary(frame, [*keys, "budget"])
        series = list(summary.groupby(keys, sort=False))
        for index, ((method, level, ratio), line) in enumerate(series):
            line = line.sort_values("budget")
            style = {"color": "black", "linestyle": "--"} if method == STANDARD else {}
            _errorbar(axis, _dodged(line["budget"], index, len(series)), line,
                      _series_name(method, level, ratio, int(line["n"].max())),
                      MARKERS[index % len(MARKERS)], **style)
        _log_ticks(axis, sorted(summary["budget"].unique()))
        accurate = set(frame["accurate_level"]) - {""}
        axis.set(xlabel=f"budget ({level_name(accurate.pop())}-label equivalents)"
                 if len(accurate) == 1 else BUDGET_LABEL, ylabel=MAE_LABEL)
        _title(axis, f"Test force MAE against budget: {_place(frame)}")
        _legend_outside(axis)
        figures.append(Figure(_save(figure, folder, f"force-mae-vs-budget {group.name}"),
                              f"Force MAE against budget ({_place(frame)}); error bars: one "
                              "standard deviation over seeds."))
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
                     label=f"standard training, {describe('budget', budget)}")
    axis.set(ylabel=MAE_LABEL)
    _log_ticks(axis, sorted(varied[x_column].dropna().unique()))
    _legend_outside(axis)


def _varied_setting(frame: pd.DataFrame) -> str:
    varied = frame[frame["method"] != STANDARD].iloc[0]
    return setting_name(varied["method"], varied["inaccurate_level"])


def gamma_figures(trials: pd.DataFrame, folder: Path) -> list[Figure]:
    """Figure 7a analogue: force MAE against gamma per budget; standard training dashed."""
    plt = _pyplot()
    figures = []
    for group in gamma_groups(trials):
        figure, axis = plt.subplots(figsize=(6, 4))
        _lines_by_budget(axis, group.frame, "gamma")
        scale = scale_of(group.frame[group.frame["gamma"].notna()])
        axis.set(xlabel=gamma_axis_name(scale))
        setting = _varied_setting(group.frame)
        _title(axis, f"{setting}: test force MAE against {gamma_grid_name(scale)}, "
                     f"{_place(group.frame)}")
        figures.append(Figure(_save(figure, folder, f"gamma {group.name}"),
                              f"Gamma sensitivity of {setting} ({_place(group.frame)})."))
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
        axis.set(xlabel="cost ratio (inaccurate labels per accurate label)")
        setting = _varied_setting(frame)
        _title(axis, f"{setting}: test force MAE against cost ratio, {_place(frame)}")
        figures.append(Figure(_save(figure, folder, f"cost-ratio {group.name}"),
                              f"Force MAE of {setting} against cost ratio ({_place(frame)})."))
    return figures


def _stable_fractions(runs: pd.DataFrame) -> pd.DataFrame:
    """Per step size: stable count, n, fraction and its Wilson 95% interval."""
    counts = runs.groupby("step_size_fs")["stable"].agg(stable="sum", n="count")
    intervals = [wilson(int(row.stable), int(row.n)) for row in counts.itertuples()]
    return counts.assign(fraction=counts["stable"] / counts["n"],
                         low=[low for low, _ in intervals], high=[high for _, high in intervals])


def md_figures(md: pd.DataFrame, folder: Path) -> list[Figure]:
    """Figure 6b analogue: stable fraction against step size, one line per method, with its
    number of trajectories and training seeds and Wilson 95% intervals."""
    plt = _pyplot()
    figures = []
    for group in md_groups(md):
        runs_by_arm = list(group.frame.groupby("arm", sort=False))
        seeds = training_seeds(group.frame)
        figure, axis = plt.subplots(figsize=(6, 4))
        for index, (arm, runs) in enumerate(runs_by_arm):
            cells = _stable_fractions(runs)
            trained = f", {seeds[arm]} training seed{'s' if seeds[arm] != 1 else ''}" \
                if arm in seeds else ""
            axis.errorbar(_dodged(cells.index, index, len(runs_by_arm)), cells["fraction"],
                          yerr=[cells["fraction"] - cells["low"],
                                cells["high"] - cells["fraction"]],
                          marker=MARKERS[index % len(MARKERS)], capsize=3,
                          label=f"{method_name(arm)} (n = {int(cells['n'].min())} per step"
                                f"{trained})")
        steps = sorted(group.frame["step_size_fs"].dropna().unique())
        _log_ticks(axis, steps)
        axis.set(xlabel="step size (fs)", ylabel="stable fraction of trajectories",
                 ylim=(-0.05, 1.05))
        frame = group.frame
        _title(axis, f"MD stability: {frame['molecule'].iloc[0]} ({frame['sweep'].iloc[0]} "
                     f"sweep), {number_text(run_length_ps(frame))} ps per trajectory")
        _legend_outside(axis)
        figures.append(Figure(_save(figure, folder, f"md-stability {group.name}"),
                              f"Stable fraction against step size ({group.name}); error bars: "
                              "Wilson 95% intervals over trajectories."))
    return figures


def _bias_used(runs: pd.DataFrame, tables: list[dict[str, np.ndarray]]) -> str:
    """What the weights used (``asteroid.gamma_scale``): B, B over its median, or B above its
    smallest value; read from the tables where the runs predate the recorded setting."""
    scale = scale_of(runs)
    if scale:
        return BIAS_USED.get(scale, "B")
    for table in tables:
        bias, used = table["bias"], table.get("bias_used", table["bias"])
        if not np.allclose(used, bias):
            return "B - min B" if np.allclose(used, bias - bias.min()) else "B / median B"
    return "B"


def bias_figures(statistics: pd.DataFrame, bias_tables: dict[str, dict[str, np.ndarray]],
                 folder: Path) -> list[Figure]:
    """Histograms of the B the weights used per budget (one trial per cell and seed: the
    gammas share stage 1) and of the weights per gamma, per sweep, molecule, model and
    inaccurate level."""
    plt = _pyplot()
    figures = []
    keys = ["sweep", "molecule", "model", "inaccurate_level"]
    for (sweep, molecule, model, level), runs in statistics.groupby(keys, sort=False):
        name = f"{sweep}: {molecule}, {model}, {level}"
        figure, (bias_axis, weight_axis) = plt.subplots(1, 2, figsize=(12, 4))
        used = _bias_used(runs, [bias_tables[run_id] for run_id in runs["run_id"]])
        scale = scale_of(runs) or ("effective_sample_size" if used == "B - min B" else "")
        per_atom = set(runs["weight_resolution"]) == {"atom"}
        column = "bias" if used == "B" and not per_atom else "bias_used"
        for budget, cells in runs.groupby("budget"):
            first = cells.drop_duplicates(["method", "seed"])["run_id"]
            values = np.concatenate([bias_tables[run_id][column] for run_id in first])
            bias_axis.hist(values, bins=50, histtype="step", density=True,
                           label=describe("budget", budget))
        for gamma, cells in runs.groupby("gamma"):
            weights = [bias_tables[run_id].get(weight_column(gamma))
                       for run_id in cells["run_id"]]
            present = [values for values in weights if values is not None]
            if present:
                weight_axis.hist(np.concatenate(present), bins=50, range=(0, 1),
                                 histtype="step", label=gamma_name(gamma, scale))
        bias_axis.set(xlabel=(ATOM_BIAS_USED_LABELS if per_atom else BIAS_USED_LABELS)[used],
                      ylabel="density of inaccurate frames")
        median = f"median B {runs['bias_median'].mean():.2f} {UNIT}"
        _title(bias_axis, f"Bias of the {level_name(level)} labels: {molecule}, "
                          f"{model_name(model)} ({sweep} sweep); {median}")
        _legend_outside(bias_axis)
        weight_axis.set(xlabel="mean of the frame's atom weights exp(-b used / γ)" if per_atom
                        else "weight exp(-B used / γ)", ylabel="inaccurate frames (all seeds)")
        _title(weight_axis, "Weights of the inaccurate frames in bias-aware training")
        if weight_axis.get_legend_handles_labels()[0]:
            _legend_outside(weight_axis)
        figure.subplots_adjust(wspace=0.45)
        figures.append(Figure(_save(figure, folder, f"bias-weights {name}"),
                              f"Bias and weight histograms ({name}; {median}; the weights "
                              f"use {'per-atom ' if per_atom else ''}{used})."))
    return figures


def bias_truth_figures(statistics: pd.DataFrame,
                       bias_tables: dict[str, dict[str, np.ndarray]], folder: Path
                       ) -> list[Figure]:
    """The estimated bias B against the true bias |f_accurate - f_cheap| on the cheap frames
    that also carry accurate labels (one trial per budget and seed: the gammas share B)."""
    plt = _pyplot()
    figures = []
    keys = ["sweep", "molecule", "model", "inaccurate_level"]
    for (sweep, molecule, model, level), runs in statistics.groupby(keys, sort=False):
        figure, axis = plt.subplots(figsize=(6.5, 4.5))
        plotted = 0
        for budget, cells in runs.groupby("budget"):
            tables = [bias_tables[run_id] for run_id
                      in cells.drop_duplicates(["seed"])["run_id"]]
            pairs = [(table["true_bias"], table["bias"]) for table in tables
                     if "true_bias" in table]
            if not pairs:
                continue
            truth, bias = (np.concatenate(part) for part in zip(*pairs, strict=True))
            known = np.isfinite(truth)
            axis.scatter(truth[known], bias[known], s=6, alpha=0.5,
                         label=f"{describe('budget', budget)} ({known.sum()} frames)")
            plotted += int(known.sum())
        if not plotted:
            plt.close(figure)
            continue
        name = f"{sweep}: {molecule}, {model}, {level}"
        spearman = runs["bias_spearman"].dropna()
        rank = f"Spearman {spearman.mean():.2f}" if len(spearman) else "no Spearman"
        axis.set(xlabel=f"true bias |f_accurate - f_{level}| ({UNIT})",
                 ylabel=f"estimated bias B ({UNIT})")
        _title(axis, f"Does B find the wrong {level_name(level)} labels? {molecule}, "
                     f"{model_name(model)}; {rank}")
        _legend_outside(axis)
        figures.append(Figure(_save(figure, folder, f"bias-vs-truth {name}"),
                              f"The estimated bias B against the true bias of the cheap frames "
                              f"that also have accurate labels ({name}; {rank} over the "
                              f"trials)."))
    return figures
