"""The exported TorchScript file gives the harness model's energy and forces, in plain PyTorch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.errors import ConfigError
from harness.export import export_torchscript
from models import build_model

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAJECTORY = PROJECT_ROOT / "data" / "ethanol" / "trajectory.npz"
SMALL_EGNN = {"n_features": 16, "n_layers": 2}


def _ethanol() -> tuple[np.ndarray, np.ndarray]:
    with np.load(TRAJECTORY) as content:
        return content["atomic_numbers"], content["positions"][::997].copy()


def _reference(model, atomic_numbers: np.ndarray, positions: np.ndarray
               ) -> tuple[torch.Tensor, torch.Tensor]:
    numbers = torch.as_tensor(atomic_numbers)
    x = torch.as_tensor(positions, dtype=torch.float64).requires_grad_(True)
    energy = model(numbers, x, torch.zeros_like(numbers), 1)
    return energy.detach(), -torch.autograd.grad(energy.sum(), x)[0]


def test_energy_and_forces_match_the_harness_model_on_other_geometries(tmp_path: Path) -> None:
    atomic_numbers, frames = _ethanol()
    torch.manual_seed(0)
    model = build_model("egnn", SMALL_EGNN).double().eval().requires_grad_(False)
    path = export_torchscript(model, atomic_numbers, frames[0], tmp_path / "ethanol.pt")
    loaded = torch.jit.load(str(path))
    for positions in frames[1:]:   # not the traced geometry
        energy, forces = loaded(torch.as_tensor(positions))
        expected_energy, expected_forces = _reference(model, atomic_numbers, positions)
        assert energy.shape == (1,) and forces.shape == positions.shape
        torch.testing.assert_close(energy, expected_energy, rtol=1e-12, atol=1e-10)
        torch.testing.assert_close(forces, expected_forces, rtol=1e-10, atol=1e-10)
    assert not list(tmp_path.glob(".*partial"))


def test_a_model_with_a_cutoff_is_refused_with_the_reason(tmp_path: Path) -> None:
    atomic_numbers, frames = _ethanol()
    model = build_model("gemnet_t", {}).eval()
    with pytest.raises(ConfigError, match="cutoff.*neighbour lists change"):
        export_torchscript(model, atomic_numbers, frames[0], tmp_path / "gemnet.pt")
    assert not list(tmp_path.iterdir())


def test_harness_export_writes_a_file_plain_pytorch_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("egnn", SMALL_EGNN)
    torch.save({"state_dict": model.state_dict(), "model": "egnn",
                "hyperparameters": SMALL_EGNN, "config": {"method": "standard"}},
               tmp_path / "model.pt")
    out = tmp_path / "exported.pt"
    subprocess.run([sys.executable, "-m", "harness.cli", "export", str(tmp_path / "model.pt"),
                    "--out", str(out), "--geometry", str(TRAJECTORY.parent)],
                   check=True, cwd=PROJECT_ROOT, capture_output=True)
    # a bare interpreter: no harness, no models package on its path
    check = ("import sys, torch; m = torch.jit.load(sys.argv[1]); "
             "e, f = m(torch.zeros(9, 3) + torch.arange(27.).reshape(9, 3)); print(f.shape)")
    shown = subprocess.run([sys.executable, "-I", "-c", check, str(out)], check=True,
                           cwd=tmp_path, capture_output=True, text=True)
    assert shown.stdout.strip() == "torch.Size([9, 3])"
