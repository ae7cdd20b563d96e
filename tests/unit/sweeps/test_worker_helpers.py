from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from spec_toy import tiny_spec

from harness.errors import ConfigError
from harness.sweeps.runner import check_data_paths, worker_environments, worker_log_path
from harness.sweeps.spec import parse_spec
from harness.sweeps.worker import (
    KeepOpen,
    metrics_on_test_frames,
    non_finite,
    trial_metrics,
)


def results(budget_spent: float = 24.0) -> dict:
    return {"data": {"n_accurate_train": 24, "n_inaccurate_train": 100},
            "budget_spent": budget_spent,
            "test": {"force_mae": 1.0, "force_rmse": 2.0, "energy_mae": 3.0},
            "stages": [{"best_validation_loss": 9.0}, {"best_validation_loss": 4.0},
                       {"best_validation_loss": 5.0}],
            "validation_loss": 4.0,  # the kept stage's, not the last one's
            "wall_seconds": 12.0, "details": {}}


def test_trial_metrics_take_the_kept_stage_and_the_spent_budget() -> None:
    metrics = trial_metrics(results(budget_spent=24.5))
    assert metrics == {"validation_loss": 4.0, "wall_seconds": 12.0, "n_accurate_train": 24,
                       "n_inaccurate_train": 100, "budget_spent": 24.5}


def test_non_finite_losses_are_a_failure_reason() -> None:
    fine = results()
    assert non_finite(fine, {"validation_loss": 4.0}) is None
    fine["test"]["force_mae"] = math.nan
    reason = non_finite(fine, {"validation_loss": math.inf})
    assert reason == "non-finite test.force_mae, validation_loss (diverged?)"


def test_keep_open_forwards_logging_but_not_the_end() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def log_params(self, params: dict) -> None:
            self.calls.append("params")

        def log_metrics(self, metrics: dict, step: int | None = None) -> None:
            self.calls.append("metrics")

        def log_artifact(self, path: Path, folder: str | None = None) -> None:
            self.calls.append("artifact")

        def close(self, status: str = "FINISHED") -> None:
            self.calls.append("close")

    recorder = Recorder()
    kept = KeepOpen(recorder)
    kept.log_params({})
    kept.log_metrics({"a": 1.0}, 2)
    kept.log_artifact(Path("x"))
    kept.close("FAILED")
    assert recorder.calls == ["params", "metrics", "artifact"]


def test_workers_get_a_gpu_each_or_a_share_of_the_cores() -> None:
    assert worker_environments(3, ["0", "1"], 16) == [
        {"OMP_NUM_THREADS": "5", "MKL_NUM_THREADS": "5", "CUDA_VISIBLE_DEVICES": gpu}
        for gpu in ("0", "1", "0")]
    cpu = worker_environments(2, [], 2)
    assert [env["OMP_NUM_THREADS"] for env in cpu] == ["1", "1"]
    assert all(env["CUDA_VISIBLE_DEVICES"] == "" for env in cpu)
    assert worker_environments(4, [], 2)[0]["OMP_NUM_THREADS"] == "1"


def test_missing_dataset_names_the_spec_key() -> None:
    content = tiny_spec()
    content["datasets"][0]["inaccurate"][0]["path"] = "data/public/md17/nothing.npz"
    with pytest.raises(ConfigError) as caught:
        check_data_paths(parse_spec(content, "x.yaml"), "x.yaml")
    assert caught.value.key_path == "datasets.0.inaccurate.0.path"


def test_test_metrics_wait_for_the_worker_so_a_diverged_run_has_none() -> None:
    logged: list[dict[str, float]] = []

    class Recorder:
        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            logged.append(metrics)

    kept = KeepOpen(Recorder())
    kept.log_metrics({"test.force_mae": 1.0, "test.energy_mae": 2.0})
    kept.log_metrics({"test.force_mae": 1.0, "standard.train_loss": 3.0}, 1)
    assert logged == [{"standard.train_loss": 3.0}]
    assert metrics_on_test_frames(results()) == {"test.force_mae": 1.0, "test.force_rmse": 2.0,
                                          "test.energy_mae": 3.0}


def test_two_sweep_runs_on_one_machine_write_separate_worker_logs(tmp_path):
    """A second ``sweep run`` of the same spec (another terminal) must not append to the first
    one's worker logs."""
    other_run = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from harness.sweeps.runner import worker_log_path; "
         "print(worker_log_path(Path(sys.argv[1]), 0))", str(tmp_path)],
        capture_output=True, text=True, check=True).stdout.strip()
    this_run = worker_log_path(tmp_path, 0)
    assert Path(other_run) != this_run
    assert Path(other_run).parent == this_run.parent == tmp_path / "logs"
    assert this_run.match("worker-*.log") and worker_log_path(tmp_path, 1) != this_run
