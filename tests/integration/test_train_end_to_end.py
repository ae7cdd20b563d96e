"""``harness train`` end to end on a toy dataset folder: resume after SIGKILL, MLflow, methods.

The toy molecule (C, O, H, H) has harmonic springs; the 'accurate' level labels 80 frames, the
'cheap' level (other spring constants) labels all 240, the trajectory is the unlabeled level.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from result_checks import without_timings

from harness.cli import main
from harness.train.config import parse_config
from harness.train.experiment import run

GEOMETRY = np.array([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [-0.6, 0.9, 0.0], [-0.6, -0.9, 0.0]])
N_FRAMES, N_ACCURATE = 240, 80
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def spring_labels(positions: np.ndarray, stiffness: float) -> tuple[np.ndarray, np.ndarray]:
    x = torch.as_tensor(positions).requires_grad_(True)
    rest = torch.cdist(torch.as_tensor(GEOMETRY), torch.as_tensor(GEOMETRY))
    energies = 0.25 * stiffness * ((torch.cdist(x, x) - rest) ** 2).sum(dim=(1, 2))
    (gradient,) = torch.autograd.grad(energies.sum(), x)
    return energies.detach().numpy(), -gradient.numpy()


@pytest.fixture(scope="module")
def toy_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    positions = GEOMETRY + 0.08 * np.random.default_rng(0).standard_normal((N_FRAMES, 4, 3))
    np.savez(folder / "trajectory.npz", atomic_numbers=np.array([6, 8, 1, 1]),
             positions=positions)
    for level, stiffness, frames in (("accurate", 50.0, N_ACCURATE), ("cheap", 35.0, N_FRAMES)):
        energies, forces = spring_labels(positions[:frames], stiffness)
        (folder / "labels" / level).mkdir(parents=True)
        np.savez(folder / "labels" / level / "chunk_0000.npz", frame_index=np.arange(frames),
                 energies=energies - 50.0, forces=forces, cpu_seconds=np.full(frames, 1.0))
    description = {"molecule": "toy", "levels": {"accurate": "springs", "cheap": "springs"},
                   "sampling": {"temperature_K": 300.0, "cpu_seconds_per_frame": 0.01}}
    (folder / "dataset.json").write_text(json.dumps(description))
    return folder


def toy_config(dataset: Path, method: str, inaccurate_level: str = "cheap",
               **changes: Any) -> dict[str, Any]:
    schedule = {"learning_rate": 5e-3, "batch_size": 8, "max_epochs": 3,
                "validation_interval": 6, "early_stopping_patience": None, "ema_decay": 0.9}
    config: dict[str, Any] = {
        "name": f"toy-{method}", "method": method, "device": "cpu", "dtype": "float64",
        "deterministic": True, "progress": False, "cpu_threads": 1,
        "data": {"accurate": {"path": str(dataset), "level": "accurate"},
                 "inaccurate": {"path": str(dataset), "level": inaccurate_level},
                 "n_accurate_train": 16, "n_inaccurate_train": 48, "n_validation": 8,
                 "n_test": 16},
        "model": {"name": "egnn", "hyperparameters": {"n_features": 8, "n_layers": 1}},
        "schedules": {name: dict(schedule) for name in
                      ("accurate", "inaccurate", "unlabeled", "fine_tune")},
        "asteroid": {"gammas": [1.0]},
        "tracking": {"enabled": False},
    }
    config.update(changes)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def harness_train(config_path: Path, output: Path) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "train", str(config_path),
                             "--output", str(output)], cwd=PROJECT_ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_run_resumes_to_the_uninterrupted_result(toy_dataset: Path,
                                                        tmp_path: Path) -> None:
    config = toy_config(toy_dataset, "asteroid", checkpoint_interval_s=0.05)
    config["schedules"]["inaccurate"].update(max_epochs=8, batch_size=4, validation_interval=5)
    config_path = write_config(tmp_path / "asteroid.yaml", config)
    uninterrupted = harness_train(config_path, tmp_path / "straight")

    killed = harness_train(config_path, tmp_path / "killed")
    checkpoint = tmp_path / "killed" / "checkpoints" / "stage2_gamma1.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "killed" / "results.json").exists()

    resumed = harness_train(config_path, tmp_path / "killed")
    for process in (uninterrupted, resumed):
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors.decode()
    straight = json.loads((tmp_path / "straight" / "results.json").read_text())
    again = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert without_timings(again) == without_timings(straight)


def test_harness_train_logs_params_metrics_and_artifacts_to_mlflow(toy_dataset: Path,
                                                                   tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = toy_config(toy_dataset, "asteroid", tracking={"uri": uri, "experiment": "toy"},
                        deterministic=False)
    results = run(parse_config(config, "toy.yaml"), "toy.yaml", tmp_path / "out")
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("toy")
    assert experiment.artifact_location == (tmp_path / "mlartifacts").as_uri()
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.data.params["method"] == "asteroid"
    assert logged.data.params["schedules.fine_tune.learning_rate"] == "0.005"
    assert logged.data.metrics["test.force_mae"] == pytest.approx(results["test"]["force_mae"])
    history = client.get_metric_history(logged.info.run_id, "stage2_gamma1.validation_loss")
    assert [entry.step for entry in history] == [6, 12, 18]  # every 6 optimiser steps
    capped = results["not_converged_stages"]
    assert logged.data.tags["training.converged"] == str(not capped).lower()
    assert logged.data.tags.get("training.not_converged_stages", "") == ",".join(capped)
    artifacts = {entry.path for entry in client.list_artifacts(logged.info.run_id)}
    assert {"results.json", "model.pt", "config.yaml", "bias"} <= artifacts
    bias_files = {entry.path for entry in client.list_artifacts(logged.info.run_id, "bias")}
    assert {"bias/bias_weights.csv", "bias/bias_histogram.png"} <= bias_files
    table = np.genfromtxt(tmp_path / "out" / "bias" / "bias_weights.csv", delimiter=",",
                          names=True)
    assert np.allclose(table["weight_gamma1"], np.exp(-table["bias_used"]))
    assert results["details"]["chosen_gamma"] == 1.0
    assert logged.data.metrics["applied_gamma"] == 1.0  # gamma_scale absolute: itself


def test_score_matching_runs_end_to_end_from_a_config(toy_dataset: Path,
                                                      tmp_path: Path) -> None:
    """The authors' score-matching loss was never called by any script: here it runs."""
    config = toy_config(toy_dataset, "score_matching", inaccurate_level="unlabeled",
                        score_matching={"n_projections": 2})
    config_path = write_config(tmp_path / "score.yaml", config)
    assert main(["train", str(config_path), "--output", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [stage["name"] for stage in results["stages"]] == ["score_matching", "fine_tune",
                                                              "fine_tune_lr_x4"]
    assert results["details"]["temperature_K"] == 300.0
    assert np.isfinite(results["test"]["force_mae"])


def test_delta_ml_trains_on_label_differences_and_says_it_needs_cheap_labels(
        toy_dataset: Path, tmp_path: Path) -> None:
    config = toy_config(toy_dataset, "delta_ml")
    results = run(parse_config(config, "toy.yaml"), "toy.yaml", tmp_path / "out")
    assert results["needs_inaccurate_label_at_inference"] is True
    assert results["details"]["n_paired_test"] == 16
    assert results["details"]["n_paired_train"] == 16
    assert results["budget_spent"] == pytest.approx(16 + 16 / 1.0)  # measured ratio 1 s / 1 s


def test_config_mistake_is_one_line_and_exit_status_two(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    path = write_config(tmp_path / "bad.yaml", {"name": "x", "method": "asteroid"})
    assert main(["train", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(path) in error and "data" in error


def test_budget_beyond_the_cheap_pool_takes_it_all_and_records_the_spend(
        toy_dataset: Path) -> None:
    from harness.train.experiment import labels_paid, prepare_splits

    config = toy_config(toy_dataset, "asteroid")
    del config["data"]["n_inaccurate_train"]
    config["data"].update(budget=1000.0, cost_ratio=2.0)
    parsed = parse_config(config, "toy.yaml")
    splits, sizes = prepare_splits(parsed, "toy.yaml")
    available = N_FRAMES - 24  # every frame but the 16 test and 8 validation configurations
    assert sizes["n_inaccurate_train"] == len(splits.inaccurate_train) == available
    assert labels_paid(parsed, sizes, {}).spent == pytest.approx(16 + available / 2.0)
    config["data"]["cap_to_available"] = False
    with pytest.raises(Exception, match="n_inaccurate_train"):
        prepare_splits(parse_config(config, "toy.yaml"), "toy.yaml")


def test_bad_data_is_one_line_and_leaves_no_output_folder(tmp_path: Path, toy_dataset: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "nan.npz"
    positions = GEOMETRY + 0.08 * np.random.default_rng(1).standard_normal((40, 4, 3))
    energies, forces = spring_labels(positions, 50.0)
    forces[7, 1, 2] = np.nan
    np.savez(broken, R=positions, z=np.array([6, 8, 1, 1]), E=energies, F=forces)
    config = toy_config(toy_dataset, "standard", output_dir=str(tmp_path / "out"))
    config["data"]["accurate"] = {"path": str(broken)}
    assert main(["train", str(write_config(tmp_path / "nan.yaml", config))]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"{broken}: field 'F'" in error
    assert not (tmp_path / "out").exists()
