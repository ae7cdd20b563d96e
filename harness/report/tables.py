"""Paper-style tables from the trial and MD frames (pure: frames in, ``Table`` out).

Accuracy tables are analogues of the paper's Tables 1-2 (force MAE by method and budget for
each inaccurate level), the ablation table of its Table 3, the baselines table of its Table 4,
and the gamma and cost-ratio tables of its Figure 7; the MD tables of Figure 6b. Every value
is the mean ± standard deviation over seeds of the trials the sweep selected (gamma chosen on
the validation loss per seed), in kcal/mol/A; the best of each column is marked bold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from harness.report import versions
from harness.report.document import Table
from harness.report.evidence import p_text, welch
from harness.report.names import OWN_MODEL, gamma_name, level_name, method_name, model_name
from harness.report.summary import (
    ASTEROID,
    MULTI_MOLECULE,
    STANDARD,
    UNIT,
    mean_std_text,
    number_text,
    seed_summary,
    selected,
    sort_rows,
    usable,
)

ABLATIONS = ("no_bat", "no_ft")
BASELINES = ("delta_ml", "sgdml", "ani1ccx", "ani1ccx_finetuned")
SELECTION_NOTE = ("Mean ± std over seeds of the trial each cell selected (gamma chosen on the "
                  "validation loss, per seed); bold: the lowest of each column. Budgets in "
                  "accurate-label equivalents.")
Formatter = Callable[[float, float, int, int], str]


def describe(key: str, value: object) -> str:
    """One key's part of a row or column label, in plain names ("" when it does not apply;
    the measured cost ratio is the default and goes unsaid)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return ""
    if key == "budget":
        return f"budget {number_text(float(value))}"
    if key in ("method", "arm"):
        return method_name(str(value))
    if key == "inaccurate_level":
        return level_name(str(value))
    if key == "model":
        return model_name(str(value))
    if key == "cost_ratio":
        return "" if value == "measured" else f"cost ratio {value}"
    if key == "gamma":
        return gamma_name(float(value))
    if key == "step_size_fs":
        return f"{number_text(float(value))} fs"
    return str(value)


def labels(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Labels made of the first key and of those keys whose values vary within ``frame``."""
    shown = [key for index, key in enumerate(keys)
             if index == 0 or frame[key].nunique(dropna=False) > 1]
    return frame.apply(
        lambda row: ", ".join(dict.fromkeys(  # sGDML's model is sGDML: say it once
            part for key in shown
            if not (key == "model" and row.get("method") in OWN_MODEL)  # it is its own model
            and (part := describe_on_scale(key, row[key],
                                           str(row.get("gamma_scale", "") or ""))))), axis=1)


def describe_on_scale(key: str, value: object, gamma_scale: str) -> str:
    """``describe``, where a gamma says what its scale (``asteroid.gamma_scale``) makes of it."""
    if key == "gamma" and not pd.isna(value):
        return gamma_name(float(value), gamma_scale)
    return describe(key, value)


def best_marks(means: pd.DataFrame, best: str | None) -> pd.DataFrame:
    """True at the lowest (``min``) or highest (``max``) mean of each column with two or more
    different values; ties for the best are all marked."""
    marks = pd.DataFrame(False, index=means.index, columns=means.columns)
    if best is None:
        return marks
    for column in means.columns:
        values = means[column].dropna()
        if values.nunique() >= 2:
            target = values.min() if best == "min" else values.max()
            marks[column] = np.isclose(means[column], target) & means[column].notna()
    return marks


def pivot(frame: pd.DataFrame, row_order: list[str], column_order: list[str], title: str,
          note: str = "", metric: str = "force_mae", best: str | None = "min",
          formatter: Formatter = mean_std_text) -> Table:
    """A table of ``metric`` summarised over seeds by the ``_row`` and ``_column`` labels;
    cells with runs of other code or data versions than the newest are marked."""
    summary = seed_summary(frame, ["_row", "_column"], metric).rename(
        columns={"_row": "row", "_column": "column"})
    usual_n = int(summary["n"].max()) if len(summary) else 0
    cells = pd.DataFrame("–", index=row_order, columns=column_order, dtype=object)
    means = pd.DataFrame(math.nan, index=row_order, columns=column_order)
    for entry in summary.itertuples():
        cells.at[entry.row, entry.column] = formatter(entry.mean, entry.std, entry.n, usual_n)
        means.at[entry.row, entry.column] = entry.mean
    marked = frame[versions.other_versions(frame)]
    for row, column in set(zip(marked["_row"], marked["_column"], strict=True)):
        if row in cells.index and column in cells.columns:
            cells.at[row, column] = f"{cells.at[row, column]} {versions.MARK}"
    mixed = versions.mixed_note(frame)
    return Table(title, cells, best_marks(means, best), f"{note} {mixed}".strip())


def metric_table(frame: pd.DataFrame, row_keys: list[str], column_keys: list[str], title: str,
                 note: str = SELECTION_NOTE, metric: str = "force_mae",
                 best: str | None = "min", formatter: Formatter = mean_std_text) -> Table:
    """Rows and columns labelled by the keys that vary, in the paper's order."""
    frame = frame.assign(_row=labels(frame, row_keys), _column=labels(frame, column_keys))
    row_order = list(dict.fromkeys(sort_rows(frame[[*row_keys, "_row"]])["_row"]))
    column_order = list(dict.fromkeys(sort_rows(frame[[*column_keys, "_column"]])["_column"]))
    return pivot(frame, row_order, column_order, title, note, metric, best, formatter)


def _standard_of(chosen: pd.DataFrame, sweep: str, molecules: list[str], model: str | None
                 ) -> pd.DataFrame:
    """Standard training (no inaccurate level) in the same sweep, molecules and model."""
    mask = ((chosen["method"] == STANDARD) & (chosen["inaccurate_level"] == "")
            & (chosen["sweep"] == sweep) & chosen["molecule"].isin(molecules))
    if model is not None:
        mask &= chosen["model"] == model
    return chosen[mask]


class Group(NamedTuple):
    """Trials shown together (one table, one figure), named by what they share."""

    name: str
    frame: pd.DataFrame


def accuracy_groups(trials: pd.DataFrame) -> list[Group]:
    """Selected trials per sweep, molecule, model and inaccurate level, with standard training
    beside every level (and alone where a sweep has no other method)."""
    chosen = sort_rows(selected(trials))
    groups = []
    covered = set()
    with_level = chosen[chosen["inaccurate_level"] != ""]
    for (sweep, molecule, model, level), group in with_level.groupby(
            ["sweep", "molecule", "model", "inaccurate_level"], sort=False):
        covered.add((sweep, molecule, model))
        groups.append(Group(f"{sweep}: {molecule}, {model}, inaccurate level {level}",
                            pd.concat([_standard_of(chosen, sweep, [molecule], model), group])))
    standard = chosen[(chosen["method"] == STANDARD) & (chosen["inaccurate_level"] == "")]
    for (sweep, molecule, model), group in standard.groupby(["sweep", "molecule", "model"],
                                                            sort=False):
        if (sweep, molecule, model) not in covered:
            groups.append(Group(f"{sweep}: {molecule}, {model}", group))
    return groups


def accuracy_tables(trials: pd.DataFrame) -> list[Table]:
    """Tables 1-2 analogue: force MAE by method and budget for each inaccurate level."""
    return [metric_table(group.frame, ["method", "cost_ratio"], ["budget"],
                         f"{group.name}: force MAE ({UNIT})") for group in accuracy_groups(trials)]


def ablation_tables(trials: pd.DataFrame) -> list[Table]:
    """Table 3 analogue: standard, without fine-tuning, without bias-aware training, ASTEROID;
    molecules and budgets as columns."""
    chosen = sort_rows(selected(trials))
    tables = []
    ablated = chosen[chosen["method"].isin(ABLATIONS)]
    for (sweep, model, level), group in ablated.groupby(["sweep", "model", "inaccurate_level"],
                                                        sort=False):
        molecules = list(group["molecule"].unique())
        full = chosen[(chosen["method"] == ASTEROID) & (chosen["sweep"] == sweep)
                      & (chosen["model"] == model) & (chosen["inaccurate_level"] == level)
                      & chosen["molecule"].isin(molecules)]
        frame = pd.concat([_standard_of(chosen, sweep, molecules, model), group, full])
        tables.append(metric_table(frame, ["method", "cost_ratio"], ["molecule", "budget"],
                                   f"{sweep}: ablation, {model}, inaccurate level {level}: "
                                   f"force MAE ({UNIT})",
                                   " ".join([SELECTION_NOTE, *bias_weight_gains(frame)])))
    return tables


def bias_weight_gains(frame: pd.DataFrame) -> list[str]:
    """What the bias weights add: ASTEROID against uniform weights (no_bat) on the same frames,
    per molecule, budget and cost ratio, with Welch's test over seeds."""
    sentences = []
    for (molecule, budget, ratio), place in frame.groupby(["molecule", "budget", "cost_ratio"],
                                                          sort=False):
        weighted = place.loc[place["method"] == ASTEROID, "force_mae"].dropna()
        uniform = place.loc[place["method"] == "no_bat", "force_mae"].dropna()
        if weighted.empty or uniform.empty:
            continue
        gain = welch(uniform, weighted)
        where = ", ".join(part for part in (molecule, describe("budget", budget),
                                            describe("cost_ratio", ratio)) if part)
        test = (f" (95% CI {gain.low:.3f} to {gain.high:.3f}, Welch {p_text(gain.p_value)}; "
                f"{len(weighted)} and {len(uniform)} seeds)" if gain.tested else "")
        direction = "lower" if gain.estimate >= 0 else "higher"
        sentences.append(f"Bias weights against uniform weights, {where}: ASTEROID's MAE is "
                         f"{abs(gain.estimate):.3f} {UNIT} {direction}{test}.")
    return sentences


def multi_molecule_tables(trials: pd.DataFrame) -> list[Table]:
    """Table 5 analogue: ASTEROID pre-trained on several molecules' cheap frames and fine-tuned
    on each, beside single-molecule ASTEROID and standard training; molecules as columns."""
    chosen = sort_rows(selected(trials))
    tables = []
    multi = chosen[chosen["method"] == MULTI_MOLECULE]
    for (sweep, model, level), group in multi.groupby(["sweep", "model", "inaccurate_level"],
                                                      sort=False):
        molecules = list(group["molecule"].unique())
        single = chosen[(chosen["method"] == ASTEROID) & (chosen["sweep"] == sweep)
                        & (chosen["model"] == model) & (chosen["inaccurate_level"] == level)
                        & chosen["molecule"].isin(molecules)]
        frame = pd.concat([_standard_of(chosen, sweep, molecules, model), group, single])
        note = (f"{SELECTION_NOTE} The multi-molecule pre-training (stages 1 and 2) trains on "
                f"the accurate and {level_name(level)} frames of {', '.join(molecules)} "
                "together, then fine-tunes on each column's molecule; each column pays for its "
                "own molecule's labels, as one pre-training serves every column.")
        tables.append(metric_table(frame, ["method", "cost_ratio"], ["molecule", "budget"],
                                   f"{sweep}: several molecules in pre-training, {model}, "
                                   f"inaccurate level {level}: force MAE ({UNIT})", note))
    return tables


def baseline_tables(trials: pd.DataFrame) -> list[Table]:
    """Table 4 analogue: Delta-ML, sGDML and ANI-1ccx beside ASTEROID and standard training."""
    chosen = sort_rows(selected(trials))
    tables = []
    for sweep, group in chosen[chosen["method"].isin(BASELINES)].groupby("sweep", sort=False):
        molecules = list(group["molecule"].unique())
        compared = chosen[(chosen["sweep"] == sweep) & chosen["molecule"].isin(molecules)
                          & chosen["method"].isin((STANDARD, ASTEROID, *BASELINES))]
        note = (f"{SELECTION_NOTE} Delta-ML needs the cheap label of every configuration at "
                "inference time, so it is not a force field on its own.")
        tables.append(metric_table(compared, ["method", "model", "inaccurate_level",
                                              "cost_ratio"], ["molecule", "budget"],
                                   f"{sweep}: baselines, force MAE ({UNIT})", note))
    return tables


def gamma_groups(trials: pd.DataFrame) -> list[Group]:
    """Every finished trial of a bias-aware setting run at two or more gammas, and the
    selected standard trials of its sweep, molecule and model."""
    done = sort_rows(usable(trials))
    # one gamma scale per group: 0.5 of the effective sample is not gamma 0.5
    keys = ["sweep", "molecule", "model", "method", "inaccurate_level", "cost_ratio",
            "gamma_scale"]
    groups = []
    for (sweep, molecule, model, method, level, ratio, _), group in done[
            done["gamma"].notna()].groupby(keys, sort=False):
        if group["gamma"].nunique() < 2:
            continue
        standard = _standard_of(selected(trials), sweep, [molecule], model)
        groups.append(Group(f"{sweep}: {method}, {molecule}, {model}, inaccurate level {level}"
                            f", ratio {ratio}", pd.concat([group, standard])))
    return groups


def scale_of(frame: pd.DataFrame) -> str:
    """The ``asteroid.gamma_scale`` of a gamma group's runs ("" when unrecorded or mixed)."""
    scales = set(frame["gamma_scale"]) if "gamma_scale" in frame else set()
    return next(iter(scales)) if len(scales) == 1 else ""


def gamma_tables(trials: pd.DataFrame) -> list[Table]:
    """Figure 7a analogue: test force MAE at every gamma, the validation's choice and standard
    training, by budget."""
    tables = []
    for group in gamma_groups(trials):
        frame = group.frame
        with_gamma = frame[frame["gamma"].notna()]
        chosen = with_gamma[with_gamma["selected"]]
        scale = scale_of(with_gamma)
        frame = pd.concat([with_gamma.assign(_row=[gamma_name(gamma, scale)
                                                   for gamma in with_gamma["gamma"]]),
                           chosen.assign(_row="chosen on validation"),
                           frame[frame["gamma"].isna()].assign(_row=method_name(STANDARD))])
        frame = frame.assign(_column=frame["budget"].map(lambda b: describe("budget", b)))
        rows = [gamma_name(gamma, scale) for gamma in sorted(with_gamma["gamma"].unique())]
        rows += [label for label in ("chosen on validation", method_name(STANDARD))
                 if label in set(frame["_row"])]
        columns = [describe("budget", budget) for budget in sorted(frame["budget"].unique())]
        counts = chosen["gamma"].value_counts().sort_index()
        picks = ", ".join(f"{gamma_name(g, scale)} {n}×" for g, n in counts.items()) \
            or "none yet"
        note = ("Test force MAE, mean ± std over seeds, of every gamma; 'chosen on validation' "
                f"is the sweep's pick per seed ({picks}). Bold: the lowest of each column.")
        tables.append(pivot(frame, rows, columns, f"{group.name}: gamma sensitivity, force MAE "
                            f"({UNIT})", note))
    return tables


def cost_ratio_groups(trials: pd.DataFrame) -> list[Group]:
    """Selected trials of a setting run at two or more cost ratios, with standard training."""
    chosen = sort_rows(selected(trials))
    keys = ["sweep", "molecule", "model", "method", "inaccurate_level"]
    groups = []
    for (sweep, molecule, model, method, level), group in chosen[
            chosen["cost_ratio"] != ""].groupby(keys, sort=False):
        if group["cost_ratio"].nunique() >= 2:
            groups.append(Group(f"{sweep}: {method}, {molecule}, {model}, inaccurate level "
                                f"{level}", pd.concat([_standard_of(chosen, sweep, [molecule],
                                                                    model), group])))
    return groups


def cost_ratio_tables(trials: pd.DataFrame) -> list[Table]:
    """Figure 7b analogue: force MAE at each cost ratio, by budget, beside standard training."""
    note = f"{SELECTION_NOTE} A row without a cost ratio uses the measured one."
    return [metric_table(group.frame, ["method", "cost_ratio"], ["budget"],
                         f"{group.name}: cost ratio, force MAE ({UNIT})", note)
            for group in cost_ratio_groups(trials)]


def md_groups(md: pd.DataFrame) -> list[Group]:
    return [Group(f"{sweep}: {molecule}", group) for (sweep, molecule), group
            in sort_rows(md).groupby(["sweep", "molecule"], sort=False)]


def _fraction_text(mean: float, std: float, n: int, usual_n: int) -> str:
    del std, usual_n
    return f"{mean:.2f} ({round(mean * n)}/{n})"


def md_stability_tables(md: pd.DataFrame) -> list[Table]:
    """Figure 6b analogue: the fraction of stable trajectories per method and step size."""
    tables = []
    for group in md_groups(md):
        note = ("Stable fraction (stable/all trajectories, over MD and training seeds); a "
                "trajectory fails when its largest interatomic distance or a bond length "
                "passes its threshold. Bold: the most stable of each step size.")
        tables.append(metric_table(group.frame, ["arm"], ["step_size_fs"],
                                   f"{group.name}: MD stability", note, metric="stable",
                                   best="max", formatter=_fraction_text))
    return tables


def _mean_std(values: pd.Series, digits: int) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    return mean_std_text(float(values.mean()), float(values.std()), len(values), len(values),
                         digits)


def md_detail_tables(md: pd.DataFrame) -> list[Table]:
    """Time to failure, NVE energy drift, h(r) error and speed per method and step size."""
    tables = []
    for group in md_groups(md):
        rows = {}
        for (arm, step), runs in group.frame.groupby(["arm", "step_size_fs"], sort=False):
            failed = runs[runs["stable"] == 0]
            rows[f"{describe('arm', arm)}, {describe('step_size_fs', step)}"] = {
                "trajectories": str(len(runs)),
                "failed": str(len(failed)),
                "time to failure (ps)": _mean_std(runs["time_to_failure_ps"], 3),
                "drift (kcal/mol/atom/ps)": _mean_std(runs["energy_drift_per_atom_per_ps"], 4),
                "h(r) MAE": _mean_std(runs["hr_mae"], 4),
                "steps/s": _mean_std(runs["steps_per_second"], 1)}
        cells = pd.DataFrame.from_dict(rows, orient="index")
        note = ("Time to failure is censored at the run length for stable trajectories; drift "
                "is from NVE runs (– when none ran); h(r) MAE is the mean absolute difference "
                "of the interatomic-distance histograms against the reference MD.")
        tables.append(Table.plain(f"{group.name}: MD observables", cells, note))
    return tables
