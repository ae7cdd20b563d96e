"""``harness md sweep`` end to end at toy sizes on the embedded ethanol data.

Three arms (asteroid, standard, inaccurate_only) are trained at an equal budget with a tiny
EGNN, then run Langevin MD at two step sizes and NVE, two seeds each; the results file,
the MLflow records and a resumed run are checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml

from harness.cli import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATASET = str(PROJECT_ROOT / "data" / "ethanol")


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def tiny_spec(tmp_path: Path) -> dict[str, Any]:
    schedule = {"learning_rate": 5e-3, "batch_size": 8, "max_epochs": 2,
                "early_stopping_patience": None, "ema_decay": 0.9}
    base = {"name": "base", "method": "asteroid", "dtype": "float64", "progress": False,
            "data": {"accurate": {"path": DATASET, "level": "ccsd"}, "n_accurate_train": 1,
                     "n_validation": 4, "n_test": 4},
            "model": {"name": "egnn", "hyperparameters": {"n_features": 8, "n_layers": 1}},
            "schedules": {name: dict(schedule) for name in
                          ("accurate", "inaccurate", "unlabeled", "fine_tune")},
            "asteroid": {"gammas": [1.0]}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    return {
        "name": "md-sweep-test", "dataset": DATASET,
        "runs_dir": str(tmp_path / "runs"), "results": str(tmp_path / "results" / "md"),
        "training": {"config": str(tmp_path / "base.yaml"), "budget": 4, "cost_ratio": 10.0},
        "arms": [{"method": "asteroid"}, {"method": "standard"}, {"method": "inaccurate_only"}],
        "md": {"step_sizes_fs": [0.5, 2.0], "duration_ps": 0.05, "seeds": 2,
               "nve_duration_ps": 0.02, "save_interval_fs": 5.0},
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }


def test_md_sweep_trains_each_arm_at_equal_budget_runs_md_and_records_it(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from mlflow.tracking import MlflowClient

    spec = tiny_spec(tmp_path)
    spec_path = tmp_path / "md-stability.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["md", "sweep", str(spec_path)]) == 0

    rows = pd.read_csv(tmp_path / "results" / "md.csv")
    assert len(rows) == 3 * 2 * 2  # arms x step sizes x seeds
    assert set(rows["method"]) == {"asteroid", "standard", "inaccurate_only"}
    assert rows["nve_stable"].notna().all() and rows["friction_per_fs"].eq(0.002).all()
    summary = json.loads((tmp_path / "results" / "md.json").read_text())["summary"]
    assert len(summary) == 3 * 2 and all(0 <= entry["stable_fraction"] <= 1 for entry in summary)
    results = {path.parent.name: json.loads(path.read_text())
               for path in (tmp_path / "runs" / "models").glob("*/results.json")}
    assert results["standard-seed0"]["data"]["n_accurate_train"] == 4
    assert results["asteroid-seed0"]["data"]["n_accurate_train"] == 3
    assert results["asteroid-seed0"]["data"]["n_inaccurate_train"] == 10  # 1 label / ratio 10
    assert (results["inaccurate_only-seed0"]["budget_spent"]
            == results["asteroid-seed0"]["budget_spent"]
            == results["standard-seed0"]["budget_spent"] == 4.0)

    client = MlflowClient(tracking_uri=spec["tracking"]["uri"])
    experiment = client.get_experiment_by_name("md-sweep-test")
    md_runs = client.search_runs([experiment.experiment_id], "tags.`harness.role` = 'md'")
    model_runs = client.search_runs([experiment.experiment_id],
                                    "tags.`harness.role` = 'md_model'")
    assert len(md_runs) == 12 and len(model_runs) == 3
    model_run_ids = {run.info.run_id for run in model_runs}
    for logged in md_runs:
        tags = logged.data.tags
        assert tags["model_run_id"] in model_run_ids and tags["sweep"] == "md-sweep-test"
        assert tags["molecule"] == "ethanol" and tags["step_size_fs"] in {"0.5", "2.0"}
        assert "md.energy_drift_per_atom_per_ps" in logged.data.metrics

    assert main(["md", "sweep", str(spec_path)]) == 0  # resumed: nothing runs again
    assert len(client.search_runs([experiment.experiment_id])) == 15
    again = pd.read_csv(tmp_path / "results" / "md.csv")
    pd.testing.assert_frame_equal(rows, again)

    spec["md"]["seeds"] = 3  # finished cells of other settings are not silently reused
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["md", "sweep", str(spec_path)]) == 2
    spec["md"]["seeds"], spec["training"]["budget"] = 2, 5  # nor models of another budget
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["md", "sweep", str(spec_path)]) == 2
    errors = capsys.readouterr().err
    assert "key 'md'" in errors and "key 'output_dir'" in errors
