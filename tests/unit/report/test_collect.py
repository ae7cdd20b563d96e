"""Reading the MLflow record: one row per trial, MD runs, bias artifacts, and the errors."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest
from report_toy import frame_of, standard

from harness.errors import ConfigError
from harness.report import collect


def test_results_have_one_row_per_trial_with_the_contract_columns(toy_store: str) -> None:
    store = collect.open_store(toy_store, ["toy"])
    results = collect.results_table(collect.trial_runs(store))
    assert tuple(results.columns) == collect.RESULT_COLUMNS
    assert len(results) == 19  # the stale KILLED duplicate gives way to its finished run
    assert set(results["status"]) == {"FINISHED", "FAILED"}
    assert 9.9 not in set(results["force_mae"])
    first = results.iloc[0]
    assert (first["method"], first["budget"], first["seed"], first["force_mae"]) == \
        ("standard", 25, 0, 1.0)
    assert first["force_rmse"] == pytest.approx(1.3) and first["wall_seconds"] == 10.0
    failed = results[results["status"] == "FAILED"].iloc[0]
    assert failed["method"] == "asteroid" and math.isnan(failed["force_mae"])
    asteroid = results[results["method"] == "asteroid"]
    assert set(asteroid["gamma"].dropna()) == {0.5, 2.0}
    assert asteroid["selected"].sum() == 4  # one gamma per seed and budget


def test_md_runs_are_read_with_step_sizes_and_stability(toy_store: str) -> None:
    md = collect.md_runs(collect.open_store(toy_store, ["toy-md"]))
    assert len(md) == 16
    assert set(md["step_size_fs"]) == {0.5, 2.0}
    assert md.groupby("arm")["stable"].mean().to_dict() == {"asteroid": 7 / 8,
                                                            "standard": 4 / 8}


def test_every_active_experiment_is_read_when_none_is_named(toy_store: str) -> None:
    store = collect.open_store(toy_store)
    assert set(store.experiments.values()) >= {"toy", "toy-md", "other"}
    assert len(collect.trial_runs(store)) == 19


def test_bias_tables_are_downloaded_for_bias_aware_trials(toy_store: str, tmp_path: Path
                                                         ) -> None:
    store = collect.open_store(toy_store, ["toy"])
    trials = collect.trial_runs(store)
    tables = collect.download_bias_tables(store, trials, tmp_path)
    asteroid = trials[(trials["method"] == "asteroid") & (trials["status"] == "FINISHED")]
    assert set(tables) == set(asteroid["run_id"])  # no_ft logged no artifact: skipped
    table = next(iter(tables.values()))
    assert {"frame_id", "bias", "bias_used"} <= set(table) and len(table["bias"]) == 40


def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    database = tmp_path / "nowhere" / "mlflow.db"
    with pytest.raises(ConfigError, match="no MLflow database") as error:
        collect.open_store(f"sqlite:///{database}")
    assert str(database) in str(error.value) and "\n" not in str(error.value)
    assert not database.exists()


@pytest.mark.parametrize("scheme", ["http", "postgresql+psycopg"])
def test_an_unreachable_server_is_a_quick_one_line_error(scheme: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConfigError, match="cannot reach the tracking server") as error:
        collect.open_store(f"{scheme}://user@127.0.0.1:{port}/db")
    assert f"127.0.0.1:{port}" in str(error.value)


def test_an_unknown_experiment_is_named_with_the_known_ones(toy_store: str) -> None:
    with pytest.raises(ConfigError, match="'nope'") as error:
        collect.open_store(toy_store, ["toy", "nope"])
    assert "toy-md" in str(error.value)


def test_a_profile_keeps_only_its_own_trials() -> None:
    smoke = standard(10, 0, 9.0)
    smoke["tags"]["profile"] = "smoke"
    trials = frame_of([standard(25, 0, 1.0), smoke])
    assert collect.of_profile(trials, "default")["budget"].tolist() == [25]
    assert len(collect.of_profile(trials, None)) == 2


def test_two_profiles_runs_of_one_trial_key_are_both_kept() -> None:
    """Profiles of one spec share its experiment and their trial keys (the same cells with
    other settings): a later profile's run must not hide an earlier profile's."""
    other = standard(25, 0, 2.0)
    other["tags"]["profile"] = "uneven_stage_one"
    trials = frame_of([standard(25, 0, 1.0), other])
    assert collect.of_profile(trials, "default")["force_mae"].tolist() == [1.0]
    assert collect.of_profile(trials, "uneven_stage_one")["force_mae"].tolist() == [2.0]


def test_a_failed_run_that_logged_finite_test_metrics_reads_as_no_result() -> None:
    from report_toy import trial

    diverged = trial("asteroid", 25, 0, 0.5, gamma=0.5, status="FAILED",
                     reason="non-finite validation_loss (diverged?)")
    diverged["metrics"] = {"force_mae": 0.5, "force_rmse": 0.6, "validation_loss": math.nan}
    frame = frame_of([diverged, trial("standard", 25, 0, 1.0)])
    assert math.isnan(frame.iloc[0]["force_mae"]) and math.isnan(frame.iloc[0]["force_rmse"])
    assert frame.iloc[1]["force_mae"] == 1.0
