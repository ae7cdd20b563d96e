"""Figures are written as PNGs for the settings that have the data, and skipped otherwise;
they speak plain names, show their n and keep legends off the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
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


def _asteroid_bias_tables(toy_frame: pd.DataFrame) -> dict[str, dict]:
    """A bias table per finished ASTEROID trial of the toy record."""
    asteroid = toy_frame[(toy_frame["method"] == "asteroid")
                         & (toy_frame["status"] == "FINISHED")]
    return {trial.run_id: bias_table(int(trial.seed), trial.gamma)
            for trial in asteroid.itertuples()}


def test_bias_histograms_come_from_the_bias_tables(toy_frame: pd.DataFrame, tmp_path: Path
                                                   ) -> None:
    folder = tmp_path / "figures"
    folder.mkdir()
    tables = _asteroid_bias_tables(toy_frame)
    statistics = bias_statistics(toy_frame, tables)
    assert len(statistics) == 8
    assert statistics["weight_mean"].between(0, 1).all()
    made = figures.bias_figures(statistics, tables, folder)
    assert _written(made, folder) == ["figures/bias-weights-toy-ethanol-egnn-xtb.png"]


@pytest.fixture()
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The matplotlib figures as they are saved (drawn, so that extents are final)."""
    saved: list[Any] = []
    original = figures._save

    def keep(figure: Any, folder: Path, stem: str) -> str:
        figure.canvas.draw()
        saved.append(figure)
        return original(figure, folder, stem)

    monkeypatch.setattr(figures, "_save", keep)
    return saved


def _legend_texts(axis: Any) -> list[str]:
    return [text.get_text() for text in axis.get_legend().get_texts()]


def _legend_clear_of_data(figure: Any) -> bool:
    """Every legend lies outside its axes, so it covers no data."""
    return all(not axis.get_legend().get_window_extent().overlaps(axis.get_window_extent())
               for axis in figure.axes if axis.get_legend() is not None)


def test_budget_figure_shows_own_model_baselines_in_plain_names(
        tmp_path: Path, drawn: list[Any]) -> None:
    runs = toy_trials() + [trial("sgdml", 25, seed, 0.9, level="", ratio="", model="sgdml")
                           for seed in (0, 1)]
    figures.budget_figures(frame_of(runs), tmp_path)
    [figure] = drawn
    labels = _legend_texts(figure.axes[0])
    assert "sGDML, 2 seeds" in labels and "standard training, 2 seeds" in labels
    assert "Delta-ML (GFN2-xTB), needs GFN2-xTB at inference, 2 seeds" in labels
    assert "ASTEROID without bias-aware training (GFN2-xTB), 2 seeds" in labels
    assert _legend_clear_of_data(figure)


def test_gamma_title_is_plain_and_wrapped(toy_frame: pd.DataFrame, tmp_path: Path,
                                          drawn: list[Any]) -> None:
    figures.gamma_figures(toy_frame, tmp_path)
    title = drawn[0].axes[0].get_title()
    assert title.replace("\n", " ").startswith(
        "ASTEROID (GFN2-xTB): test force MAE against γ, ethanol, EGNN")
    assert "\n" in title and max(map(len, title.splitlines())) <= figures.TITLE_WIDTH
    assert _legend_clear_of_data(drawn[0])


def test_md_figure_shows_n_and_wilson_intervals(tmp_path: Path, drawn: list[Any]) -> None:
    figures.md_figures(md_frame_of(toy_md_runs()), tmp_path)
    axis = drawn[0].axes[0]
    assert _legend_texts(axis) == ["standard training (n = 4 per step, 1 training seed)",
                                   "ASTEROID (n = 4 per step, 1 training seed)"]
    assert axis.containers and all(container.has_yerr for container in axis.containers)
    assert _legend_clear_of_data(drawn[0])


def test_bias_histogram_shows_the_normalised_bias_the_weights_used(
        toy_frame: pd.DataFrame, tmp_path: Path, drawn: list[Any]) -> None:
    tables = _asteroid_bias_tables(toy_frame)
    figures.bias_figures(bias_statistics(toy_frame, tables), tables, tmp_path)
    bias_axis = drawn[0].axes[0]
    assert bias_axis.get_xlabel() == "B used by the weights: B / median B (dimensionless)"
    assert "median B" in bias_axis.get_title()
    assert _legend_clear_of_data(drawn[0])


def test_bias_histogram_says_when_the_weights_used_b_above_its_minimum(
        toy_frame: pd.DataFrame, tmp_path: Path, drawn: list[Any]) -> None:
    """``gamma_scale: effective_sample_size`` weights B - min B (kcal/mol/A)."""
    tables = _asteroid_bias_tables(toy_frame)
    for table in tables.values():
        table["bias_used"] = table["bias"] - table["bias"].min()
    figures.bias_figures(bias_statistics(toy_frame, tables), tables, tmp_path)
    assert drawn[0].axes[0].get_xlabel() == "B used by the weights: B - min B (kcal/mol/Å)"


def test_bias_histogram_follows_the_recorded_scale_and_per_atom_weights(
        toy_frame: pd.DataFrame, tmp_path: Path, drawn: list[Any]) -> None:
    """Per-atom weights on the effective-sample scale: the frame's B used is the mean of its
    atoms' b - min b, which the numbers alone cannot tell apart from B / median B."""
    tables = _asteroid_bias_tables(toy_frame)
    for table in tables.values():
        table["bias_used"] = 0.9 * table["bias"]
    recorded = toy_frame.assign(gamma_scale="effective_sample_size", weight_resolution="atom")
    figures.bias_figures(bias_statistics(recorded, tables), tables, tmp_path)
    bias_axis, weight_axis = drawn[0].axes[:2]
    assert bias_axis.get_xlabel() == figures.ATOM_BIAS_USED_LABELS["B - min B"]
    assert weight_axis.get_xlabel().startswith("mean of the frame's atom weights")
    assert all(text.endswith("of the effective sample") for text in _legend_texts(weight_axis))


def test_b_against_the_true_bias_is_drawn_where_the_tables_have_it(toy_frame: pd.DataFrame,
                                                                   tmp_path: Path) -> None:
    folder = tmp_path / "figures"
    folder.mkdir()
    tables = _asteroid_bias_tables(toy_frame)
    statistics = bias_statistics(toy_frame, tables)
    assert figures.bias_truth_figures(statistics, tables, folder) == []  # no truth: no figure
    for table in tables.values():
        truth = 0.5 * table["bias"]
        truth[::2] = np.nan  # frames without an accurate label
        table["true_bias"] = truth
    made = figures.bias_truth_figures(statistics, tables, folder)
    assert _written(made, folder) == ["figures/bias-vs-truth-toy-ethanol-egnn-xtb.png"]


def test_the_bias_table_rows_say_what_a_gamma_means(toy_frame: pd.DataFrame) -> None:
    from harness.report.bias import bias_tables_summary

    tables = _asteroid_bias_tables(toy_frame)
    shares = toy_frame.assign(gamma_scale=toy_frame["gamma_scale"].mask(
        toy_frame["gamma"].notna(), "effective_sample_size"))
    [table] = bias_tables_summary(bias_statistics(shares, tables))
    assert any("keeps 50% of the effective sample" in row for row in table.cells.index)
    [table] = bias_tables_summary(bias_statistics(toy_frame, tables))
    assert any("γ=0.5" in row for row in table.cells.index)
