from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from train_toy import toy_frames

from harness.train import tracking
from harness.train.batching import FrameBatches, frames_to_graphs
from harness.train.tracking import (
    PROJECT_ROOT,
    NullTracker,
    default_artifact_location,
    resolve_tracking_uri,
)


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


def test_stacked_batches_equal_torch_geometric_collation() -> None:
    graphs = frames_to_graphs(toy_frames(6), np.linspace(0.0, 1.0, 6), dtype=torch.float64)
    stacked = FrameBatches(graphs, torch.device("cpu"))
    assert stacked.same_molecule
    index = torch.tensor([4, 0, 3])
    ours, reference = stacked.batch(index), Batch.from_data_list([graphs[i] for i in index])
    assert ours.num_graphs == reference.num_graphs == 3
    for key in ("z", "pos", "forces", "energy", "weight", "atom_weight", "frame_id", "batch",
                "ptr"):
        assert torch.equal(getattr(ours, key), getattr(reference, key)), key
    assert [batch.num_graphs for batch in stacked.in_order(4)] == [4, 2]


def test_per_atom_weights_become_a_frame_weight_and_the_atoms_shares_of_it() -> None:
    """The frame weighs its atoms' mean weight (on its energy term); weight times share is each
    atom's own weight. A frame whose atoms all weigh 0 keeps shares 1."""
    atom_weights = np.array([[1.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]])
    graphs = frames_to_graphs(toy_frames(2), atom_weights, dtype=torch.float64)
    assert [float(graph.weight) for graph in graphs] == [0.5, 0.0]
    assert torch.equal(graphs[0].weight * graphs[0].atom_weight, torch.tensor(atom_weights[0]))
    assert torch.equal(graphs[1].atom_weight, torch.ones(4, dtype=torch.float64))
    batch = FrameBatches(graphs, torch.device("cpu")).batch(torch.tensor([1, 0]))
    assert torch.equal(batch.atom_weight, torch.cat([graphs[1].atom_weight,
                                                     graphs[0].atom_weight]))
    per_frame = frames_to_graphs(toy_frames(2), np.array([0.3, 1.0]), dtype=torch.float64)
    assert all(torch.equal(graph.atom_weight, torch.ones(4, dtype=torch.float64))
               for graph in per_frame)


def test_frames_of_different_molecules_are_collated() -> None:
    graphs = frames_to_graphs(toy_frames(3))
    graphs[1] = graphs[1].clone()
    graphs[1].z = graphs[1].z.flip(0) + 1
    stacked = FrameBatches(graphs, torch.device("cpu"))
    assert not stacked.same_molecule
    assert torch.equal(stacked.batch(torch.tensor([1, 2])).z,
                       torch.cat([graphs[1].z, graphs[2].z]))


class RecordingTracker(NullTracker):
    def __init__(self) -> None:
        self.calls: list[list[tuple[str, float, int]]] = []

    def log_metric_entries(self, entries: list[tuple[str, float, int]]) -> None:
        self.calls.append(list(entries))


def test_metrics_are_buffered_and_nothing_is_lost_on_flush(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(tracking.time, "monotonic", lambda: clock[0])
    tracker = RecordingTracker()
    buffered = tracking.BufferedMetrics(tracker, flush_interval_s=5.0)
    for step in range(1, 4):
        buffered.add({"stage1.validation_loss": float(step)}, step)
    assert tracker.calls == []  # within the interval: held back
    clock[0] = 6.0
    buffered.add({"stage1.validation_loss": 4.0}, 4)
    assert [entry[2] for entry in tracker.calls[0]] == [1, 2, 3, 4]
    buffered.add({"stage1.validation_loss": 5.0}, 5)
    buffered.flush()
    assert tracker.calls[1] == [("stage1.validation_loss", 5.0, 5)]
