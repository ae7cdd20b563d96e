"""``harness sweep run`` end to end with two workers: the MLflow contract and failures."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from sweep_checks import (
    mlflow_runs,
    optuna_states,
    run_sweep,
    study_storage,
    sweep_command,
    tracking_uri,
    write_tiny_spec,
)

GOOD_KEYS = ["ethanol/ccsd/egnn/standard/b6/s0", "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g0.5/s0",
             "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g2/s0",
             "ethanol/ccsd+xtb/egnn/delta_ml/b6/r20/s0"]
CONTRACT_TAGS = ("sweep", "profile", "molecule", "model", "method", "budget", "cost_ratio",
                 "accurate_level", "inaccurate_level", "gamma", "seed", "trial_key", "git_sha",
                 "data_version", "selected")
CONTRACT_METRICS = ("test.force_mae", "test.force_rmse", "test.energy_mae", "validation_loss",
                    "wall_seconds", "n_accurate_train", "n_inaccurate_train", "budget_spent")


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny sweep plus a broken model whose every trial fails, run by two workers."""
    folder = tmp_path_factory.mktemp("sweep")
    models = [{"name": "egnn", "hyperparameters": {"n_features": 8, "n_layers": 1}},
              {"name": "egnn", "label": "broken", "hyperparameters": {"no_such_size": 1}}]
    spec = write_tiny_spec(folder, name="run", models=models)
    completed = run_sweep(sweep_command(spec, folder, workers=2))
    assert "4 of 8 trials complete, 4 failed, 0 pending" in completed.stdout
    return folder


def test_every_good_trial_once_and_broken_ones_failed_with_reason(finished_sweep: Path) -> None:
    folder = finished_sweep
    states = optuna_states(study_storage(folder, "run"), "run:default")
    broken = sorted(key for key in states if "/broken/" in key)
    assert len(broken) == 4
    for key in broken:
        assert [state.name for state in states[key]] == ["FAIL"]
    runs = mlflow_runs(folder, "run")
    failed = [run for run in runs if "/broken/" in run.data.tags["trial_key"]]
    assert {run.info.status for run in failed} == {"FAILED"}
    assert all("no_such_size" in run.data.tags["failure_reason"] for run in failed)
    good_runs = [run for run in runs if run not in failed]
    assert sorted(run.data.tags["trial_key"] for run in good_runs) == sorted(GOOD_KEYS)
    assert {run.info.status for run in good_runs} == {"FINISHED"}


def test_trial_runs_carry_the_contract_and_hang_under_their_cell(finished_sweep: Path) -> None:
    folder = finished_sweep
    cells = {run.info.run_id: run for run in mlflow_runs(folder, "run", role="cell")}
    assert len(cells) == 6
    for run in mlflow_runs(folder, "run"):
        tags, metrics = run.data.tags, run.data.metrics
        assert set(CONTRACT_TAGS) <= set(tags), set(CONTRACT_TAGS) - set(tags)
        parent = cells[tags["mlflow.parentRunId"]]
        assert parent.data.tags["cell_key"] == tags["cell_key"]
        if run.info.status == "FINISHED":
            assert set(CONTRACT_METRICS) <= set(metrics), set(CONTRACT_METRICS) - set(metrics)
            assert tags["data_version"].startswith("dvc:")
    finished_cells = {run.data.tags["cell_key"]: run.info.status for run in cells.values()}
    assert sorted(finished_cells.values()) == ["FAILED"] * 3 + ["FINISHED"] * 3


def test_gamma_is_chosen_on_validation_and_recorded(finished_sweep: Path) -> None:
    folder = finished_sweep
    asteroid = [run for run in mlflow_runs(folder, "run")
                if run.data.tags["trial_key"] in GOOD_KEYS[1:3]]
    losses = {run.data.tags["gamma"]: run.data.metrics["validation_loss"] for run in asteroid}
    chosen = min(losses, key=losses.get)
    assert {run.data.tags["gamma"]: run.data.tags["selected"] for run in asteroid} == {
        gamma: "true" if gamma == chosen else "false" for gamma in losses}
    cell = next(run for run in mlflow_runs(folder, "run", role="cell")
                if run.data.tags["cell_key"] == "ethanol/ccsd+xtb/egnn/asteroid/b6/r20")
    assert cell.data.tags["chosen_gamma.s0"] == chosen
    assert cell.data.metrics["validation_loss.s0.g0.5"] == pytest.approx(losses["0.5"])
    assert cell.data.metrics["validation_loss.s0.g2"] == pytest.approx(losses["2"])
    assert cell.data.metrics["n_selected_trials"] == 1


def test_search_api_groups_the_selected_runs_by_method(finished_sweep: Path) -> None:
    mlflow.set_tracking_uri(tracking_uri(finished_sweep))
    table = mlflow.search_runs(
        experiment_names=["run"],
        filter_string="tags.`harness.role` = 'trial' and tags.selected = 'true' "
                      "and attributes.status = 'FINISHED'")
    by_method = table.groupby("tags.method")["metrics.test.force_mae"].count().to_dict()
    assert by_method == {"asteroid": 1, "delta_ml": 1, "standard": 1}


def test_a_trial_logs_each_of_its_final_metrics_once(finished_sweep: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri(finished_sweep))
    [run, *_] = [run for run in mlflow_runs(finished_sweep, "run")
                 if run.info.status == "FINISHED"]
    for name in CONTRACT_METRICS:
        assert len(client.get_metric_history(run.info.run_id, name)) == 1, name


def test_trial_artifacts_are_in_the_explicit_artifact_location(finished_sweep: Path) -> None:
    from mlflow.tracking import MlflowClient

    run = next(run for run in mlflow_runs(finished_sweep, "run")
               if run.data.tags["trial_key"] == GOOD_KEYS[1])
    assert run.info.artifact_uri.startswith((finished_sweep / "mlartifacts").as_uri())
    names = {item.path for item in MlflowClient(tracking_uri(finished_sweep)).list_artifacts(
        run.info.run_id)}
    assert {"results.json", "model.pt", "config.yaml", "bias"} <= names


def test_worker_logs_show_the_progress_of_each_stage(finished_sweep: Path) -> None:
    logs = "".join(log.read_text() for log in
                   (finished_sweep / "state" / "run" / "default" / "logs").glob("worker-*.log"))
    for stage in ("standard", "stage1", "stage2_gamma0.5", "stage3_gamma0.5"):
        assert f"\n{stage}: step " in logs, stage
    assert "\r" not in logs  # plain lines, not a redrawn bar


@pytest.mark.slow
def test_rerunning_a_finished_sweep_changes_nothing(finished_sweep: Path) -> None:
    folder = finished_sweep
    before = {run.info.run_id for run in mlflow_runs(folder, "run")}
    completed = run_sweep(sweep_command(folder / "run.yaml", folder, workers=1))
    assert "4 of 8 trials complete, 4 failed, 0 pending" in completed.stdout
    assert {run.info.run_id for run in mlflow_runs(folder, "run")} == before
    states = optuna_states(study_storage(folder, "run"), "run:default")
    assert sum(len(attempts) for attempts in states.values()) == 8
