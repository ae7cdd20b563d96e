from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from train_toy import toy_frames

from harness.train.batching import frames_to_graphs
from harness.train.tracking import PROJECT_ROOT, default_artifact_location, resolve_tracking_uri


def test_graphs_carry_labels_weights_and_frame_ids() -> None:
    frames = toy_frames(3)
    graphs = frames_to_graphs(frames, np.array([1.0, 0.5, 0.0]), dtype=torch.float64)
    batch = Batch.from_data_list(graphs)
    assert batch.weight.tolist() == [1.0, 0.5, 0.0]
    assert batch.frame_id.tolist() == frames.frame_ids.tolist()
    assert torch.equal(batch.forces.reshape(3, 4, 3), torch.as_tensor(frames.forces))
    assert torch.equal(batch.energy, torch.as_tensor(frames.energies))


def test_unlabeled_frames_get_zero_labels() -> None:
    graphs = frames_to_graphs(toy_frames(2, labelled=False))
    assert graphs[0].pos.dtype == torch.float32
    assert float(graphs[1].forces.abs().sum()) == 0.0


def test_tracking_uri_prefers_config_then_environment_then_project_sqlite(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"
    assert resolve_tracking_uri(None) == "http://tracking:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    default = resolve_tracking_uri(None)
    assert default == f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
    assert default_artifact_location(default) == (PROJECT_ROOT / "mlartifacts").as_uri()
    assert default_artifact_location("http://tracking:5000") is None


def test_processes_opening_a_new_sqlite_store_at_once_do_not_collide(tmp_path: Path) -> None:
    """MLflow migrates a fresh SQLite schema on first use; unserialised, two processes fail."""
    import subprocess
    import sys

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    script = ("import sys; from harness.train.tracking import MlflowTracker; "
              "MlflowTracker(sys.argv[1], 'race', sys.argv[2]).close()")
    processes = [subprocess.Popen([sys.executable, "-c", script, uri, f"run{i}"],
                                  stderr=subprocess.PIPE, text=True) for i in range(3)]
    for process in processes:
        _, error = process.communicate(timeout=120)
        assert process.returncode == 0, error[-500:]
