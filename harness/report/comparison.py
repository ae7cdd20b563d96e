"""Our force errors beside the paper's published ones, for the MD17 molecules.

Each of our settings (method, model, inaccurate level, cost ratio) is matched with the paper's
rows of the same method, model and kind of cheap data (``paper.matching_rows``); ours is taken
at our budget nearest the paper's. The last column says plainly whether the two are the same
experiment: the paper's data are MD17@CCSD(T) at 200 accurate frames (Table 4: budget 250).
"""

from __future__ import annotations

import pandas as pd

from harness.report import versions
from harness.report.document import Table
from harness.report.paper import MOLECULES, is_md17_data, matching_rows, paper_value
from harness.report.summary import UNIT, mean_std_text, number_text, selected, sort_rows
from harness.report.tables import describe

SETTING = ["method", "model", "inaccurate_level", "cost_ratio", "accurate_level"]


def _difference(molecule: str, accurate_level: str, our_budget: float, paper_budget: float
                ) -> str:
    reasons = []
    if not is_md17_data(molecule, accurate_level):
        reasons.append(f"our accurate level is {accurate_level}, not MD17's")
    if our_budget != paper_budget:
        reasons.append(f"budget {number_text(our_budget)} vs {number_text(paper_budget)}")
    return "yes" if not reasons else "no: " + "; ".join(reasons)


def _rows(molecule: str, trials: pd.DataFrame) -> dict[str, dict[str, str]]:
    rows = {}
    for setting, group in trials.groupby(SETTING, sort=False):
        method, model, level, ratio, accurate_level = setting
        label = ", ".join(part for key, value in zip(SETTING[:4], setting[:4], strict=True)
                          if (part := describe(key, value)))
        for paper_row in matching_rows(molecule, model, method, level):
            budgets = group["budget"].unique()
            budget = float(min(budgets, key=lambda value: abs(value - paper_row.budget)))
            runs = group[group["budget"] == budget]
            ours = runs["force_mae"]
            text = mean_std_text(float(ours.mean()), float(ours.std()), len(ours), len(ours))
            if versions.other_versions(trials).loc[runs.index].any():
                text = f"{text} {versions.MARK}"
            source = f"{paper_row.table}, {paper_row.row}"
            rows[f"{label} ({source})"] = {
                "ours": text, "our budget": number_text(budget),
                "paper": f"{paper_value(paper_row, molecule):.3f}",
                "paper budget": number_text(paper_row.budget),
                "same setting": _difference(molecule, accurate_level, budget, paper_row.budget)
                + (f" ({paper_row.caveat})" if paper_row.caveat else "")}
    return rows


def paper_tables(trials: pd.DataFrame) -> list[Table]:
    """One table per sweep and MD17 molecule that has a setting the paper reports."""
    chosen = sort_rows(selected(trials))
    tables = []
    for (sweep, molecule), group in chosen[chosen["molecule"].isin(MOLECULES)].groupby(
            ["sweep", "molecule"], sort=False):
        rows = _rows(molecule, group)
        if not rows:
            continue
        cells = pd.DataFrame.from_dict(rows, orient="index")
        note = ("Ours: mean ± std over seeds of the selected trials. Paper: Bukharin et al. "
                "2023, MD17@CCSD(T) (aspirin: CCSD), tables as cited; the paper's models are "
                "larger and trained far longer, so a row is a like-for-like comparison only "
                "where the last column says yes.")
        note = f"{note} {versions.mixed_note(group)}".strip()
        tables.append(Table.plain(f"{sweep}: ours beside the paper, {molecule} (force MAE, "
                                  f"{UNIT})", cells, note))
    return tables
