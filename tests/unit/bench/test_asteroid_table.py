"""The measured-table driver: equal budgets, gamma chosen on seed 0 only, resumable summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from harness.bench.asteroid_table import SMOKE, TableSettings, plan, run_table, summary_markdown
from harness.train.config import parse_config


def test_every_planned_config_is_valid_and_spends_at_most_the_budget() -> None:
    settings = TableSettings()
    runs = plan(settings)
    assert len(runs) == len(settings.budgets) * len(settings.seeds) * len(settings.methods)
    for run in runs:
        config = parse_config(run.config, run.run_id)
        n_accurate = config.data.n_accurate_train
        assert n_accurate == (run.budget if run.label in ("standard", "score_matching")
                              else run.budget - 1)
        if run.label.startswith("asteroid"):
            # the cheap frames must cost less than the CCSD label given up for them
            assert config.data.n_inaccurate_train / 9000 < 1


def test_only_seed_zero_chooses_gamma_and_it_runs_first() -> None:
    runs = plan(TableSettings())
    reusing = [run for run in runs if run.gamma_from is not None]
    assert reusing and all(run.seed != 0 and run.config["method"] == "asteroid"
                           for run in reusing)
    ids = {run.run_id for run in runs}
    assert all(run.gamma_from in ids and run.gamma_from.endswith("-s0") for run in reusing)


def test_summary_gives_mean_std_and_change_against_standard() -> None:
    table = pd.DataFrame({"method": ["standard", "standard", "asteroid_xtb", "asteroid_xtb"],
                          "budget": [25] * 4, "seed": [0, 1, 0, 1],
                          "force_mae": [4.0, 6.0, 2.0, 3.0]})
    markdown = summary_markdown(table)
    assert "| standard | 5.000 ± 1.414 |" in markdown
    assert "| asteroid_xtb | 2.500 ± 0.707 (-50%) |" in markdown


@pytest.mark.slow
def test_smoke_table_runs_and_a_second_call_reuses_the_results(tmp_path: Path) -> None:
    settings = replace(SMOKE, methods=("standard", "asteroid_xtb"))
    first = run_table(settings, tmp_path)
    assert len(first) == 4 and first["force_mae"].notna().all()
    assert set(first.loc[first["method"] == "asteroid_xtb", "gamma"]) <= set(settings.gammas)
    second = run_table(settings, tmp_path)
    pd.testing.assert_frame_equal(first, second)
