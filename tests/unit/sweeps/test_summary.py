"""What ``harness sweep run`` prints and writes: no password, and the sweep's own outcome."""

from __future__ import annotations

import json
from pathlib import Path

from harness.sweeps.runner import SweepSummary

SECRET = "secretpw"


def summary(n_pending: int = 0, errors: list[str] | None = None) -> SweepSummary:
    return SweepSummary("tiny", "default", 4, 4 - n_pending, {}, n_pending, Path("/state"),
                        f"postgresql://optuna:{SECRET}@db-host/optuna",
                        f"http://alice:{SECRET}@mlflow-host:5000", 12.0, errors or [])


def test_lines_and_summary_json_hide_the_passwords() -> None:
    shown = summary(errors=[f"warning: worker 7 exited with -9; log ends: {SECRET}"])
    text = "\n".join(shown.lines()) + json.dumps(shown.as_json())
    assert SECRET not in text
    assert "postgresql://optuna:***@db-host/optuna" in text
    assert "http://alice:***@mlflow-host:5000" in text


def test_a_sweep_with_every_trial_settled_is_finished_even_if_a_worker_died() -> None:
    assert summary(errors=["warning: worker 7 exited with -9"]).finished
    assert not summary(n_pending=1).finished
