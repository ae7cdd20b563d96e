"""``harness md run`` on the embedded ethanol data with a small trained model, end to end.

One tiny EGNN is trained (float64, a few epochs on xTB frames) with MLflow tracking into a
temporary store; the tests run NVE and Langevin MD with it from its run folder, from its
MLflow run id and through the command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ase.io import read

from harness.cli import main
from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.md.loading import load_model
from harness.md.runner import MDSettings
from harness.md.single import RunRequest, run_md
from harness.train.config import parse_config
from harness.train.experiment import run

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATASET = str(PROJECT_ROOT / "data" / "ethanol")


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny EGNN fitted to 100 xTB frames of ethanol, with its MLflow store."""
    folder = tmp_path_factory.mktemp("md-model")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = {
        "name": "md-tiny", "method": "standard", "device": "cpu", "dtype": "float64",
        "cpu_threads": 1, "progress": False,
        "data": {"accurate": {"path": DATASET, "level": "xtb"}, "n_accurate_train": 100,
                 "n_validation": 10, "n_test": 10},
        "model": {"name": "egnn", "hyperparameters": {"n_features": 16, "n_layers": 2}},
        "schedules": {"accurate": {"learning_rate": 5e-3, "batch_size": 10, "max_epochs": 30,
                                   "early_stopping_patience": None, "ema_decay": 0.9}},
        "tracking": {"uri": uri, "experiment": "md-tiny"},
    }
    threads = torch.get_num_threads()
    run(parse_config(config, "md-tiny.yaml"), "md-tiny.yaml", folder / "run")
    torch.set_num_threads(threads)
    run_id = (folder / "run" / "mlflow_run_id.txt").read_text().strip()
    return {"folder": folder / "run", "uri": uri, "run_id": run_id}


def test_nve_with_a_trained_model_conserves_energy(trained: dict[str, Any]) -> None:
    settings = MDSettings(ensemble="nve", steps=2000, step_fs=0.25, save_interval_fs=5.0,
                          seeds=(0, 1))
    outcome = run_md(RunRequest(model=str(trained["folder"]), dataset=DATASET,
                                dtype="float64"), settings)
    for row in outcome["rows"]:
        assert row["stable"] and row["n_frames"] == 101
        # measured: 4e-4 kcal/mol/atom/ps over 0.5 ps; Verlet's energy error stays bounded
        assert row["energy_drift_per_atom_per_ps"] < 5e-3
        assert 0 < row["hr_mae"] < 2


def test_a_model_loads_from_its_mlflow_run_id(trained: dict[str, Any]) -> None:
    from_folder = load_model(trained["folder"])
    from_mlflow = load_model(f"runs:/{trained['run_id']}", tracking_uri=trained["uri"])
    assert from_mlflow.run_id == from_folder.run_id == trained["run_id"]
    numbers = torch.as_tensor([6, 6, 8, 1, 1, 1, 1, 1, 1])
    positions = torch.as_tensor(np.load(Path(DATASET) / "trajectory.npz")["positions"][0])
    batch = torch.zeros(9, dtype=torch.long)
    assert torch.equal(from_folder.model(numbers, positions, batch),
                       from_mlflow.model(numbers, positions, batch))


def test_harness_md_run_writes_results_frames_and_one_mlflow_run_per_seed(
        trained: dict[str, Any], tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    arguments = ["md", "run", trained["run_id"], "--tracking-uri", trained["uri"],
                 "--dataset", DATASET, "--steps", "200", "--seeds", "2", "--threads", "1",
                 "--out", str(tmp_path / "md"), "--trajectory-dir", str(tmp_path / "frames"),
                 "--experiment", "md-tiny-md"]
    assert main(arguments) == 0
    content = json.loads((tmp_path / "md.json").read_text())
    assert [row["seed"] for row in content["rows"]] == [0, 1]
    assert content["summary"][0]["step_fs"] == 0.5
    assert 0.0 <= content["summary"][0]["stable_fraction"] <= 1.0
    frames = read(tmp_path / "frames" / "seed_1.extxyz", index=":")
    assert len(frames) == content["rows"][1]["n_frames"] == 11  # every 10 fs for 100 fs
    first_energy_ev = frames[0].get_potential_energy()
    model = load_model(trained["folder"]).model
    numbers, positions = torch.as_tensor(frames[0].numbers), torch.as_tensor(frames[0].positions)
    energy_kcal = float(model(numbers, positions, torch.zeros(9, dtype=torch.long))[0])
    assert first_energy_ev == pytest.approx(energy_kcal * KCAL_PER_MOL_IN_EV, rel=1e-9)

    client = MlflowClient(tracking_uri=trained["uri"])
    experiment = client.get_experiment_by_name("md-tiny-md")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    for logged in runs:
        tags, metrics = logged.data.tags, logged.data.metrics
        assert tags["harness.role"] == "md" and tags["method"] == "standard"
        assert tags["model_run_id"] == trained["run_id"] and tags["molecule"] == "ethanol"
        assert tags["step_size_fs"] == "0.5" and tags["seed"] in {"0", "1"}
        assert {"md.stable", "md.time_to_failure_ps", "md.steps_per_second",
                "md.hr_mae"} <= set(metrics)
        assert logged.data.params["friction_per_fs"] == "0.002"


def test_md_run_mistakes_are_one_line_errors(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    assert main(["md", "run", str(tmp_path), "--steps", "0"]) == 2
    assert "key 'steps'" in capsys.readouterr().err
    assert main(["md", "run", str(tmp_path / "absent")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "MLflow run id" in error
