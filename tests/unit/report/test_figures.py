"""Figures are written as PNGs for the settings that have the data, and skipped otherwise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from report_toy import bias_table, frame_of, md_frame_of, toy_md_runs, toy_trials, trial

from harness.report import figures
from harness.report.bias import bias_statistics

PNG = b"\x89PNG"


def _written(made: list[figures.Figure], folder: Path) -> list[str]:
    assert all((folder.parent / figure.path).read_bytes().startswith(PNG) for figure in made)
    return [figure.path for figure in made]


def test_budget_gamma_and_md_figures_are_pngs(toy_frame: pd.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "figures"
    folder.mkdir()
    assert _written(figures.budget_figures(toy_frame, folder), folder) == [
        "figures/force-mae-vs-budget-toy-ethanol-egnn-inaccurate-level-xtb.png"]
    assert len(_written(figures.gamma_figures(toy_frame, folder), folder)) == 1
    assert len(_written(figures.md_figures(md_frame_of(toy_md_runs()), folder), folder)) == 1


def test_cost_ratio_figure_needs_two_numeric_ratios(toy_frame: pd.DataFrame, tmp_path: Path
                                                    ) -> None:
    folder = tmp_path / "figures"
    folder.mkdir()
    one_numeric = toy_trials() + [trial("asteroid", 25, 0, 0.5, ratio="20", gamma=0.5)]
    assert figures.cost_ratio_figures(frame_of(one_numeric), folder) == []
    two_numeric = one_numeric + [trial("asteroid", 25, 0, 0.4, ratio="80", gamma=0.5)]
    assert len(_written(figures.cost_ratio_figures(frame_of(two_numeric), folder), folder)) == 1


def test_bias_histograms_come_from_the_bias_tables(toy_frame: pd.DataFrame, tmp_path: Path
                                                   ) -> None:
    folder = tmp_path / "figures"
    folder.mkdir()
    asteroid = toy_frame[(toy_frame["method"] == "asteroid")
                         & (toy_frame["status"] == "FINISHED")]
    tables = {trial.run_id: bias_table(int(trial.seed), trial.gamma)
              for trial in asteroid.itertuples()}
    statistics = bias_statistics(toy_frame, tables)
    assert len(statistics) == 8
    assert statistics["weight_mean"].between(0, 1).all()
    made = figures.bias_figures(statistics, tables, folder)
    assert _written(made, folder) == ["figures/bias-weights-toy-ethanol-egnn-xtb.png"]
