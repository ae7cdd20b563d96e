"""Models come back from a run folder or its model.pt; mistakes name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from md_toy import ethanol_start, save_run

from harness.errors import ConfigError, DataError
from harness.md.calculator import ReplicaForces
from harness.md.loading import load_model
from models import build_model


def energies(model: torch.nn.Module) -> torch.Tensor:
    numbers, start = ethanol_start()
    return ReplicaForces(model, numbers)(torch.as_tensor(start[None]))[0]


def test_a_run_folder_and_its_model_file_give_the_same_model(tmp_path: Path) -> None:
    folder = save_run(tmp_path / "run", run_id="a" * 32)
    from_folder = load_model(folder)
    from_file = load_model(folder / "model.pt", dtype=torch.float32)
    assert from_folder.method == "asteroid" and from_folder.run_id == "a" * 32
    assert from_file.model.energy_scale.dtype == torch.float32
    assert not any(parameter.requires_grad for parameter in from_folder.model.parameters())
    assert torch.allclose(energies(from_folder.model), energies(from_file.model), rtol=1e-5)


def test_a_folder_without_model_pt_is_not_a_finished_run(tmp_path: Path) -> None:
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(DataError, match="model.pt"):
        load_model(tmp_path / "unfinished")


def test_a_source_that_is_neither_a_path_nor_a_run_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MLflow run id"):
        load_model(tmp_path / "nowhere")


def test_corrupt_or_mismatched_checkpoints_are_data_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="readable"):
        load_model(corrupt)
    mismatched = build_model("egnn", {"n_features": 4, "n_layers": 1})
    with pytest.raises(DataError, match="state_dict"):
        load_model(save_run(tmp_path / "mismatched", weights=mismatched))
