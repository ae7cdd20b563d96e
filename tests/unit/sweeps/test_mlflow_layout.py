from __future__ import annotations

from pathlib import Path

import pytest
from spec_toy import tiny_spec

from harness.errors import ConfigError
from harness.sweeps.mlflow_layout import SweepTracking, cell_tags_of
from harness.sweeps.plan import make_plan
from harness.sweeps.spec import parse_spec


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def tracking_for(name: str, uri: str) -> tuple[SweepTracking, object]:
    spec = parse_spec(tiny_spec(name=name), "tiny.yaml")
    return SweepTracking(spec, uri), make_plan(spec)


def test_experiment_has_an_explicit_artifact_location(tracking_uri: str) -> None:
    tracking, _ = tracking_for("artifacts", tracking_uri)
    experiment = tracking.client.get_experiment(tracking.experiment_id)
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    assert experiment.artifact_location == (database.parent / "mlartifacts").as_uri()


def test_cell_and_trial_runs_are_found_again_not_duplicated(tracking_uri: str) -> None:
    tracking, plan = tracking_for("layout", tracking_uri)
    trial = plan.trials[1]
    cell_run = tracking.cell_run(trial.cell.key, trial.cell.tags())
    run = tracking.trial_run(trial.key, trial.tags(), cell_run)
    again, _ = tracking_for("layout", tracking_uri)  # a new process: nothing cached
    assert again.cell_run(trial.cell.key, trial.cell.tags()) == cell_run
    assert again.trial_run(trial.key, trial.tags(), cell_run).info.run_id == run.info.run_id
    tags = tracking.client.get_run(run.info.run_id).data.tags
    assert tags["harness.role"] == "trial" and tags["mlflow.parentRunId"] == cell_run
    assert (tags["sweep"], tags["profile"], tags["method"], tags["gamma"], tags["seed"]) == (
        "layout", "default", "asteroid", "0.5", "0")
    parent_tags = tracking.client.get_run(cell_run).data.tags
    assert parent_tags["harness.role"] == "cell" and parent_tags["cost_ratio"] == "20"


def test_cell_tags_drop_what_names_a_trial(tracking_uri: str) -> None:
    _, plan = tracking_for("tags", tracking_uri)
    trial = plan.trials[1]
    assert cell_tags_of(trial.tags()) == trial.cell.tags()


def test_failure_is_a_tag_and_a_status_and_is_cleared_on_retry(tracking_uri: str) -> None:
    tracking, plan = tracking_for("failure", tracking_uri)
    trial = plan.trials[0]
    run = tracking.trial_run(trial.key, trial.tags(), tracking.cell_run(trial.cell.key, {}))
    tracking.fail(run.info.run_id, "ValueError: diverged")
    failed = tracking.client.get_run(run.info.run_id)
    assert failed.info.status == "FAILED"
    assert failed.data.tags["failure_reason"] == "ValueError: diverged"
    tracking.clear_failure(failed)
    assert "failure_reason" not in tracking.client.get_run(run.info.run_id).data.tags


def test_deleted_experiment_is_a_clear_error(tracking_uri: str) -> None:
    tracking, _ = tracking_for("deleted", tracking_uri)
    tracking.client.delete_experiment(tracking.experiment_id)
    with pytest.raises(ConfigError, match="is deleted"):
        tracking_for("deleted", tracking_uri)
