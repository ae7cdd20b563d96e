"""A trial that diverges ends FAILED in MLflow without a finite test metric to be found by."""

from __future__ import annotations

import subprocess

from sweep_checks import PROJECT_ROOT, mlflow_runs, sweep_command, write_tiny_spec

DIVERGING = {"schedules": {"accurate": {"learning_rate": 1e30, "gradient_clip_norm": None}}}


def test_a_diverged_trial_fails_and_carries_no_test_metrics(tmp_path) -> None:
    spec = write_tiny_spec(tmp_path, name="diverge", methods=["standard"], train=DIVERGING)
    completed = subprocess.run(sweep_command(spec, tmp_path, workers=1), cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=240)
    assert "0 of 1 trials complete, 1 failed" in completed.stdout, completed.stderr
    (run,) = mlflow_runs(tmp_path, "diverge")
    assert run.info.status == "FAILED"
    assert "diverged" in run.data.tags["failure_reason"]
    assert not [key for key in run.data.metrics if key.startswith("test.")]
