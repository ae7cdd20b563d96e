"""The MLflow record of docs/mlflow-record.md, written as its writers write it and read back.

One sweep trial (an ASTEROID trial of the tiny spec, trained into its run as a worker does),
the same training as a `harness train` run, and one MD trajectory go into a temporary
SQLite store; the report's collector must read them as the sweep and MD recorded them,
and the `harness train` run must carry the trial's tags so that the two sit side by side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from sweep_checks import PROJECT_ROOT, prepare_tracking, tracking_uri, write_tiny_spec

from harness.md.tracking import log_md_run
from harness.mlflow_record import (
    SETTING_TAGS,
    Artifacts,
    Metrics,
    Params,
    Role,
    Tags,
    flag_tag,
    run_filter,
    weight_column,
)
from harness.report import collect
from harness.report.bias import bias_statistics
from harness.sweeps.mlflow_layout import SweepTracking
from harness.sweeps.plan import Trial, make_plan
from harness.sweeps.spec import SweepSpec, load_spec
from harness.sweeps.worker import KeepOpen, metrics_on_test_frames, sweep_run_metrics
from harness.train.config import TrainConfig
from harness.train.experiment import run
from harness.train.tracking import MlflowTracker
from harness.versions import code_version, trial_versions

GAMMA = 0.5
ETHANOL = str(PROJECT_ROOT / "data" / "ethanol")
MD_ROW = {"ensemble": "langevin", "step_fs": 0.5, "seed": 3, "temperature_K": 300.0,
          "friction_per_fs": 0.01, "steps": 200, "duration_ps": 0.1, "replicas_in_batch": 4,
          "stable": True, "stable_max_distance": True, "stable_bonds": True,
          "time_to_failure_ps": 0.1, "steps_per_second": 900.0, "hr_mae": 0.02,
          "energy_drift_per_atom_per_ps": math.nan}


def asteroid_trial(folder: Path) -> tuple[SweepSpec, Trial]:
    """The one trial of the tiny spec cut down to ASTEROID at one gamma."""
    dataset = {"molecule": "ethanol", "accurate": {"path": ETHANOL, "level": "ccsd"},
               "inaccurate": [{"path": ETHANOL, "level": "xtb"}]}
    spec = load_spec(write_tiny_spec(folder, name="record", datasets=[dataset],
                                     methods=["asteroid"], gammas=[GAMMA]))
    [trial] = make_plan(spec).trials
    return spec, trial


def write_trial(spec: SweepSpec, trial: Trial, uri: str, folder: Path
                ) -> tuple[str, dict[str, Any]]:
    """The trial's cell and run, tagged, trained into and closed as the sweep does."""
    tracking = SweepTracking(spec, uri)
    cell_run = tracking.cell_run(trial.cell.key, trial.cell.tags(), code_version())
    tags = {**trial.tags(), **code_version(), **trial_versions(trial.config).as_tags()}
    run_id = tracking.trial_run(trial.key, {**tags, Tags.SELECTED: flag_tag(False)},
                                cell_run).info.run_id
    tracker = KeepOpen(MlflowTracker(uri, spec.name, trial.key, run_id))
    results = run(TrainConfig.model_validate(trial.config), "tiny.yaml", folder, tracker)
    tracking.log_metrics(run_id, {**metrics_on_test_frames(results),
                                  **sweep_run_metrics(results)})
    tracking.terminate(run_id)
    tracking.set_tags(run_id, {Tags.SELECTED: flag_tag(True)})  # as settling the group does
    return run_id, results


def write_training_run(trial: Trial, uri: str, folder: Path) -> dict[str, Any]:
    """The trial's training config run as `harness train` runs it, in its own run."""
    config = {**trial.config, "tracking": {"uri": uri, "experiment": "record-train"}}
    return run(TrainConfig.model_validate(config), "train.yaml", folder)


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("record")
    prepare_tracking(folder)  # a SQLite file, as the project's stores are
    uri = tracking_uri(folder)
    spec, trial = asteroid_trial(folder)
    trial_run_id, trial_results = write_trial(spec, trial, uri, folder / "trial")
    training_results = write_training_run(trial, uri, folder / "train")
    identity = {Tags.SWEEP: "record-md", Tags.MOLECULE: "ethanol", Tags.MODEL: "egnn",
                Tags.METHOD: "asteroid", Tags.LABEL: "asteroid", Tags.BUDGET: "6",
                Tags.TRAINING_SEED: "0", Tags.MODEL_RUN_ID: trial_run_id}
    md_run_id = log_md_run(MD_ROW, "record-md", uri, identity,
                           {Params.MODEL_SOURCE: f"runs:/{trial_run_id}/{Artifacts.MODEL}"})
    return {"uri": uri, "folder": folder, "trial": trial, "trial_run_id": trial_run_id,
            "trial_results": trial_results, "training_results": training_results,
            "md_run_id": md_run_id}


def test_the_collector_reads_a_trial_as_the_sweep_recorded_it(record: dict[str, Any]) -> None:
    store = collect.open_store(record["uri"], ["record"])
    [row] = collect.trial_runs(store).to_dict("records")
    trial, results = record["trial"], record["trial_results"]
    assert row["run_id"] == record["trial_run_id"] and row["status"] == "FINISHED"
    assert (row["sweep"], row["profile"], row["trial_key"]) == ("record", "default", trial.key)
    assert {tag: row[tag] for tag in SETTING_TAGS} == {
        Tags.MOLECULE: "ethanol", Tags.MODEL: "egnn", Tags.METHOD: "asteroid",
        Tags.BUDGET: 6.0, Tags.COST_RATIO: "20", Tags.ACCURATE_LEVEL: "ccsd",
        Tags.INACCURATE_LEVEL: "xtb"}
    assert (row["gamma"], row["seed"], row["selected"]) == (GAMMA, 0, True)
    assert row["code_version"] and row["data_hash"].startswith("sha256:")
    assert row["force_mae"] == pytest.approx(results["test"]["force_mae"])
    assert row["validation_loss"] == pytest.approx(results["stages"][-1]["best_validation_loss"])
    assert row["stages_still_improving"] == len(results["not_converged_stages"])


def test_the_collector_reads_the_trial_bias_table_at_its_gamma(record: dict[str, Any]) -> None:
    store = collect.open_store(record["uri"], ["record"])
    trials = collect.trial_runs(store)
    tables = collect.download_bias_tables(store, trials, record["folder"] / "downloads")
    table = tables[record["trial_run_id"]]
    assert weight_column(GAMMA) in table
    [statistics] = bias_statistics(trials, tables).to_dict("records")
    assert statistics["bias_median"] == pytest.approx(
        record["trial_results"]["details"]["bias_median"])
    assert 0 < statistics["weight_mean"] <= 1


def test_the_collector_reads_an_md_run_as_md_recorded_it(record: dict[str, Any]) -> None:
    store = collect.open_store(record["uri"], ["record-md"])
    [row] = collect.md_runs(store).to_dict("records")
    assert row["run_id"] == record["md_run_id"]
    assert (row["sweep"], row["arm"], row["model_run_id"]) == (
        "record-md", "asteroid", record["trial_run_id"])
    assert (row["step_size_fs"], row["seed"]) == (0.5, 3)
    assert (row["duration_ps"], row["temperature_K"]) == (0.1, 300.0)
    assert (row["stable"], row["time_to_failure_ps"]) == (1.0, 0.1)
    assert math.isnan(row["energy_drift_per_atom_per_ps"])  # non-finite: not logged


def test_a_training_run_carries_the_tags_of_the_sweep_trial(record: dict[str, Any]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=record["uri"])
    experiment = client.get_experiment_by_name("record-train")
    [training] = client.search_runs([experiment.experiment_id], run_filter(Role.TRAINING))
    trial_tags = client.get_run(record["trial_run_id"]).data.tags
    for tag in (*SETTING_TAGS, Tags.SEED, Tags.GAMMA, Tags.CODE_VERSION, Tags.DATA_HASH):
        assert training.data.tags[tag] == trial_tags[tag], tag


def test_chosen_gamma_bias_and_budget_are_metrics_of_both_runs(record: dict[str, Any]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=record["uri"])
    experiment = client.get_experiment_by_name("record-train")
    [training] = client.search_runs([experiment.experiment_id], run_filter(Role.TRAINING))
    trial = client.get_run(record["trial_run_id"])
    for logged, results in ((training, record["training_results"]),
                            (trial, record["trial_results"])):
        metrics, details = logged.data.metrics, results["details"]
        assert metrics[Metrics.CHOSEN_GAMMA] == GAMMA
        assert metrics[Metrics.BIAS_MEDIAN] == pytest.approx(details["bias_median"])
        assert metrics[Metrics.BIAS_MEAN] == pytest.approx(details["bias_mean"])
        if "budget_spent" in results:  # results.json records it (the training driver's)
            assert metrics[Metrics.BUDGET_SPENT] == pytest.approx(results["budget_spent"])


def test_both_runs_name_the_machine_they_trained_on(record: dict[str, Any]) -> None:
    import torch
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=record["uri"])
    experiment = client.get_experiment_by_name("record-train")
    [training] = client.search_runs([experiment.experiment_id], run_filter(Role.TRAINING))
    trial = client.get_run(record["trial_run_id"])
    expected = {Tags.TORCH_VERSION: torch.__version__,
                Tags.CPU_CAPABILITY: torch.backends.cpu.get_cpu_capability(),
                Tags.ACCELERATOR: "none"}
    for logged, results in ((training, record["training_results"]),
                            (trial, record["trial_results"])):
        assert results["runtime"] == expected
        assert {tag: logged.data.tags[tag] for tag in expected} == expected
