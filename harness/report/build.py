"""``harness report``: the whole report from MLflow into a folder, then back into MLflow.

Everything is written into a staging folder beside the output first and swapped in at the end,
so a report that fails half-way leaves the previous one intact. Both folders are named by the
host and process that made them (``.<out>-staging-<host>-<pid>-*``, ``.<out>-previous-...``),
so a later report tells those of killed reports (their process is gone) from those of running
ones and removes them, after putting back a previous report that a kill left out of place
(between the two renames of the swap). The folder is the report's:
its previous contents are replaced whole. The same files are then logged as artifacts
(under ``report/``) of each reported experiment's report run (role ``report``, see
docs/mlflow-record.md), a new run that replaces the experiment's previous one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import ConfigError
from harness.mlflow_record import Artifacts, Role, Tags, run_filter
from harness.redaction import redact
from harness.report import collect, figures, tables, versions
from harness.report.arms import comparisons
from harness.report.bias import bias_statistics, bias_tables_summary
from harness.report.comparison import paper_tables
from harness.report.document import Figure, Report, Section, Table
from harness.report.headline import headline, headline_metrics
from harness.report.md_headline import md_lines
from harness.report.render import html, markdown

FIGURES = "figures"
OWNER = re.compile(r"(?P<host>.+)-(?P<pid>\d+)(-[a-z0-9_]+)?")  # tempfile adds [a-z0-9_]+


@dataclass(frozen=True)
class ReportOutcome:
    folder: Path
    files: list[Path]
    logged_to: list[str]
    headline: list[str]


def _section(heading: str, missing: str, section_tables: list[Table],
             section_figures: list[Figure] | None = None) -> Section:
    """A section with its tables and figures, or only the one-line ``missing`` note."""
    if not section_tables:
        return Section(heading, missing=missing)
    return Section(heading, tables=section_tables, figures=section_figures or [])


def _trials_section(trials: pd.DataFrame) -> Section:
    if trials.empty:
        return Section("Trials", missing=f"No trial runs ({Tags.ROLE}={Role.TRIAL}) in the "
                       "record.")
    counts = ", ".join(f"{n} {state.lower()}" for state, n in
                       trials["status"].value_counts().sort_index().items())
    paragraphs = [f"{len(trials)} trial runs ({counts}); results.csv holds one row per trial "
                  "with its code_version and data_hash.", *versions.summary_lines(trials)]
    failed = trials[trials["status"] == "FAILED"]
    if failed.empty:
        return Section("Trials", paragraphs=paragraphs)
    cells = pd.DataFrame({"reason": failed["failure_reason"].replace("", "(none recorded)")
                          .to_numpy()}, index=failed["trial_key"].where(
                              failed["trial_key"] != "", failed["run_id"]).to_numpy())
    return Section("Trials", paragraphs=paragraphs, tables=[Table.plain("Failed trials", cells)])


def assemble(title: str, trials: pd.DataFrame, md: pd.DataFrame,
             bias_data: dict[str, dict[str, np.ndarray]], figure_folder: Path,
             profile: str | None = None) -> tuple[Report, dict[str, Any]]:
    """The report and its metrics (for metrics.json); writes the figures."""
    statistics = bias_statistics(trials, bias_data)
    found = comparisons(trials, statistics)
    made = datetime.now(timezone.utc)
    sections = [
        Section("Provenance", paragraphs=versions.provenance(trials, profile, made)),
        _section("Force error by method and budget (paper Tables 1-2, Figures 3-4)",
                 "No finished, selected trials in the record.", tables.accuracy_tables(trials),
                 figures.budget_figures(trials, figure_folder)),
        _section("Ablation (paper Table 3)", "No ablation trials (no_bat, no_ft) in the record.",
                 tables.ablation_tables(trials)),
        _section("Several molecules in one pre-training (paper Table 5)",
                 "No multi-molecule pre-training (asteroid_multi) in the record.",
                 tables.multi_molecule_tables(trials)),
        _section("Baselines (paper Table 4)",
                 "No baseline trials (delta_ml, sgdml, ani1ccx, ani1ccx_finetuned) in the record.",
                 tables.baseline_tables(trials)),
        _section("The paper's numbers beside ours",
                 "No MD17 molecule with a setting the paper reports.", paper_tables(trials)),
        _section("Gamma sensitivity (paper Figure 7a)",
                 "No bias-aware setting run at two or more gammas.", tables.gamma_tables(trials),
                 figures.gamma_figures(trials, figure_folder)),
        _section("Cost ratio (paper Figure 7b)", "No setting run at two or more cost ratios.",
                 tables.cost_ratio_tables(trials),
                 figures.cost_ratio_figures(trials, figure_folder)),
        _section("MD stability (paper Figure 6b)",
                 f"No MD runs ({Tags.ROLE}={Role.MD}) in the record.",
                 tables.md_stability_tables(md) + tables.md_detail_tables(md),
                 figures.md_figures(md, figure_folder)),
        _section("Bias and weights", f"No bias artifacts ({Artifacts.BIAS_TABLE}) in the record.",
                 bias_tables_summary(statistics),
                 figures.bias_figures(statistics, bias_data, figure_folder)
                 + figures.bias_truth_figures(statistics, bias_data, figure_folder)),
        _trials_section(trials),
    ]
    metrics = {"headline": headline_metrics(found),
               "trials": {state.lower(): int(n)
                          for state, n in trials["status"].value_counts().items()},
               "versions": versions.counts(trials)}
    lines = [*versions.summary_lines(trials), *headline(found, trials), *md_lines(md)]
    return Report(title, lines, sections), metrics


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _staging_prefix(out: Path) -> str:
    return f".{out.name}-staging-{_owner()}-"


def _previous(out: Path) -> Path:
    return out.with_name(f".{out.name}-previous-{_owner()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _abandoned(folder: Path, kind: str, out: Path) -> bool:
    """Left by a killed report: made on this host by a process that is gone (or named as
    before the process was recorded)."""
    owner = OWNER.fullmatch(folder.name.removeprefix(f".{out.name}-{kind}-"))
    if owner is None:
        return True
    return owner["host"] == socket.gethostname() and not _alive(int(owner["pid"]))


def remove_leftovers(out: Path) -> None:
    """Clear what killed reports left beside ``out``, restoring a displaced previous report."""
    previous = sorted((folder for folder in out.parent.glob(f".{out.name}-previous-*")
                       if _abandoned(folder, "previous", out)),
                      key=lambda folder: folder.stat().st_mtime)
    if previous and not out.exists():
        os.replace(previous.pop(), out)
    staging = [folder for folder in out.parent.glob(f".{out.name}-staging-*")
               if _abandoned(folder, "staging", out)]
    for leftover in [*previous, *staging]:
        shutil.rmtree(leftover, ignore_errors=True)


def _swap_in(staged: Path, out: Path) -> None:
    """Replace ``out`` by ``staged``, restoring the old folder if the second rename fails."""
    previous = None
    if out.exists():
        previous = _previous(out)
        os.replace(out, previous)
    try:
        os.replace(staged, out)
    except OSError:
        if previous is not None:
            os.replace(previous, out)
        raise
    if previous is not None:
        shutil.rmtree(previous)


def _write(staging: Path, store: collect.Store, trials: pd.DataFrame, md: pd.DataFrame,
           profile: str | None) -> tuple[Path, list[str]]:
    folder = staging / "report"
    (folder / FIGURES).mkdir(parents=True)
    bias_data = collect.download_bias_tables(store, trials, staging / "artifacts")
    title = "ASTEROID harness report: " + ", ".join(sorted(set(store.experiments.values())))
    report, metrics = assemble(title, trials, md, bias_data, folder / FIGURES, profile)
    write_files(folder, report, metrics, collect.results_table(trials))
    return folder, report.headline


def write_files(folder: Path, report: Report, metrics: dict[str, Any],
                results: pd.DataFrame) -> None:
    """A report folder's files beside its figures: results.csv, metrics.json, report.md and
    report.html."""
    results.to_csv(folder / "results.csv", index=False, float_format="%.6g")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    (folder / "report.md").write_text(markdown(report), encoding="utf-8")
    (folder / "report.html").write_text(html(report, folder), encoding="utf-8")


def _reported_experiments(store: collect.Store, trials: pd.DataFrame, md: pd.DataFrame,
                          named: bool) -> dict[str, str]:
    """The named experiments, or those that hold sweep or MD runs."""
    if named:
        return store.experiments
    holding = set(trials["experiment"]) | set(md["experiment"])
    if not holding:
        raise ConfigError(redact(store.uri), "experiment", "no experiment holds sweep or MD runs "
                          f"(tag {Tags.ROLE}={Role.TRIAL} or {Role.MD}): run a sweep first")
    return {eid: name for eid, name in store.experiments.items() if name in holding}


def log_report(store: collect.Store, folder: Path) -> list[str]:
    """Log the report folder into a new report run of every reported experiment, deleting
    the experiment's previous report runs; returns the new run ids."""
    run_ids = []
    for experiment_id in store.experiments:
        previous = store.client.search_runs([experiment_id], run_filter(Role.REPORT))
        run_id = store.client.create_run(experiment_id, run_name="report",
                                         tags={Tags.ROLE: Role.REPORT}).info.run_id
        store.client.log_artifacts(run_id, str(folder), Artifacts.REPORT_FOLDER)
        store.client.set_terminated(run_id)
        for old in previous:
            store.client.delete_run(old.info.run_id)
        run_ids.append(run_id)
    return run_ids


def build_report(tracking_uri: str | None, experiments: list[str] | None, out: Path,
                 profile: str | None = None, seeds: list[int] | None = None) -> ReportOutcome:
    """Read the record, write ``out`` (results.csv, metrics.json, report.md, report.html,
    figures/) atomically, and log the same files to MLflow. ``profile``: report only the
    sweep trials of that profile; ``seeds``: only those training seeds."""
    store = collect.open_store(tracking_uri, experiments)
    trials, md = collect.of_seeds(collect.of_profile(collect.trial_runs(store), profile),
                                  collect.md_runs(store), seeds)
    store = collect.Store(store.uri, store.client,
                          _reported_experiments(store, trials, md, bool(experiments)))
    out = out.resolve()
    lines, files = write_atomically(
        out, lambda staging: _write(staging, store, trials, md, profile))
    return ReportOutcome(out, files, log_report(store, out), lines)


def write_atomically(out: Path, write: Callable[[Path], tuple[Path, list[str]]]
                     ) -> tuple[list[str], list[Path]]:
    """Let ``write`` fill a folder inside a staging folder beside ``out`` (it returns that
    folder and the headline), then swap the folder in for ``out``; returns the headline and
    the files of ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=_staging_prefix(out)) as staging:
        folder, lines = write(Path(staging))
        _swap_in(folder, out)
    return lines, sorted(path for path in out.rglob("*") if path.is_file())
