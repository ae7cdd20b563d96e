"""``harness report --from-reports``: one report over the results.csv of several reports.

A table's parts can live in different MLflow stores: the budgets of one sweep run in
different sessions, on different machines, and only their reports (results.csv among them)
are committed. Merging those tables gives the learning curve (force MAE against budget)
that no single store holds. Only what results.csv carries is reported: the accuracy,
ablation and baseline tables, the budget figures and the headline; bias diagnostics, MD and
gamma curves need the MLflow record.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from harness.errors import ConfigError
from harness.report import figures, tables, versions
from harness.report.arms import comparisons
from harness.report.build import FIGURES, write_atomically, write_files
from harness.report.collect import RESULT_COLUMNS
from harness.report.document import Report, Section
from harness.report.headline import headline, headline_metrics

RESULTS = "results.csv"
CONVERGENCE_FLAGS = ("stages_still_improving", "fine_tuning_worse", "kept_stage1")
NUMBER_COLUMNS = ("budget", "gamma", "force_mae", "force_rmse", "energy_mae", "wall_seconds")


def read_results(folder: Path) -> pd.DataFrame:
    """A report's results.csv typed as the report's own trials are (text "" where absent)."""
    path = folder / RESULTS
    if not path.is_file():
        raise ConfigError(path, "--from-reports", "no such file: give the folders of "
                          "reports made by harness report")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ConfigError(path, "--from-reports", f"not a readable CSV table ({error})"
                          ) from None
    missing = [column for column in RESULT_COLUMNS if column not in frame]
    if missing:
        raise ConfigError(path, missing[0], "column missing: not a results table of harness "
                          "report")
    for column in NUMBER_COLUMNS:
        frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce")
    frame["seed"] = pd.to_numeric(frame["seed"].replace("", None)).astype("Int64")
    frame["selected"] = frame["selected"].str.lower() == "true"
    frame["source"] = str(folder)
    return frame


def merged_trials(folders: list[Path]) -> pd.DataFrame:
    """Every report's trials; a run reported twice is an error (the reports overlap)."""
    frame = pd.concat([read_results(folder) for folder in folders], ignore_index=True)
    twice = frame[frame["run_id"].duplicated(keep=False)]
    if not twice.empty:
        first = twice.iloc[0]["run_id"]
        places = list(twice[twice["run_id"] == first]["source"])
        raise ConfigError(Path(places[0]) / RESULTS, "run_id",
                          f"run {first} is in more than one report ({', '.join(places)}): "
                          "merge reports of different trials")
    # results.csv carries neither the accurate level, gamma scale and weight resolution (read
    # as unrecorded) nor the convergence flags (their caveats stay in the source reports)
    return frame.assign(accurate_level="", gamma_scale="", weight_resolution="",
                        **{flag: math.nan for flag in CONVERGENCE_FLAGS})


def _sources(trials: pd.DataFrame) -> list[str]:
    lines = []
    for source, rows in trials.groupby("source", sort=False):
        code = ", ".join(sorted(set(rows["code_version"]) - {""})) or versions.UNRECORDED
        budgets = ", ".join(f"{budget:g}" for budget in sorted(rows["budget"].dropna().unique()))
        lines.append(f"{source}: {len(rows)} trials, budget {budgets}, code {code}.")
    return lines


def assemble(trials: pd.DataFrame, figure_folder: Path) -> tuple[Report, dict]:
    """The merged report and its metrics (for metrics.json); writes the figures."""
    made = datetime.now(timezone.utc)
    found = comparisons(trials, pd.DataFrame(columns=["run_id", "weight_mean"]))
    sections = [
        Section("Provenance", paragraphs=[
            f"Made {made:%Y-%m-%d %H:%M} UTC by harness report --from-reports from the "
            f"results.csv of {trials['source'].nunique()} reports, {len(trials)} trial runs:",
            *_sources(trials),
            "Their trials were recorded in different MLflow stores; each source report "
            "holds its provenance, bias diagnostics and figures."]),
        Section("Force error by method and budget (paper Tables 1-2, Figures 3-4)",
                tables=tables.accuracy_tables(trials),
                figures=figures.budget_figures(trials, figure_folder)),
        Section("Ablation (paper Table 3)", tables=tables.ablation_tables(trials)),
        Section("Baselines (paper Table 4)", tables=tables.baseline_tables(trials)),
    ]
    metrics = {"headline": headline_metrics(found), "versions": versions.counts(trials)}
    lines = [*versions.summary_lines(trials), *headline(found, trials),
             "Whether every stage converged, and whether fine-tuning ended above stage 1, is "
             "in each source report's headline (results.csv does not carry it)."]
    title = "ASTEROID harness report: " + ", ".join(sorted(set(trials["sweep"])))
    return Report(title, lines, [section for section in sections
                                 if section.tables or section.paragraphs]), metrics


def merge_reports(folders: list[Path], out: Path) -> tuple[list[str], list[Path]]:
    """Write ``out`` (results.csv with a source column, metrics.json, report.md,
    report.html, figures/) atomically from the reports in ``folders``; returns the headline
    and the files written."""
    trials = merged_trials(folders)

    def write(staging: Path) -> tuple[Path, list[str]]:
        folder = staging / "report"
        (folder / FIGURES).mkdir(parents=True)
        report, metrics = assemble(trials, folder / FIGURES)
        write_files(folder, report, metrics, trials.loc[:, [*RESULT_COLUMNS, "source"]])
        return folder, report.headline

    return write_atomically(out.resolve(), write)
