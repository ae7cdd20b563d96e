"""Test helpers: ethanol's first reference frame and closed-form force fields on it.

``SpringModel`` puts a harmonic spring (kcal/mol/A^2) on every pair of atoms at its length in
the reference frame: a smooth, bounded molecule that stays together at 500 K. A negative
stiffness pushes every pair apart (a model that explodes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch_geometric.utils import scatter

from harness.model_file import save_model
from models import build_model
from models.base import ForceField

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TINY_EGNN = {"n_features": 8, "n_layers": 1}


def ethanol_start() -> tuple[np.ndarray, np.ndarray]:
    """Atomic numbers and the first frame (Angstrom) of the embedded 500 K trajectory."""
    with np.load(PROJECT_ROOT / "data" / "ethanol" / "trajectory.npz") as content:
        return content["atomic_numbers"], content["positions"][0].copy()


class SpringModel(ForceField):
    """E = stiffness/2 * sum over pairs (d - d0)^2 in kcal/mol, d0 from ``geometry``."""

    def __init__(self, geometry: np.ndarray, stiffness: float = 100.0) -> None:
        super().__init__()
        rest = torch.cdist(torch.as_tensor(geometry), torch.as_tensor(geometry))
        self.register_buffer("rest_lengths", rest)
        self.stiffness = stiffness

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        n_atoms = len(self.rest_lengths)
        frames = positions.reshape(n_molecules, n_atoms, 3)
        stretch = torch.cdist(frames, frames) - self.rest_lengths
        per_atom = 0.25 * self.stiffness * stretch.square().sum(dim=2)
        return scatter(per_atom.reshape(-1), batch, dim=0, dim_size=n_molecules, reduce="sum")


def save_run(folder: Path, weights: ForceField | None = None, run_id: str | None = None,
             method: str = "asteroid") -> Path:
    """A run folder as ``harness train`` leaves it (the model file, and the MLflow run id).

    The file says the model is the tiny EGNN; ``weights`` (default: that model) are saved.
    """
    torch.manual_seed(0)
    folder.mkdir(parents=True)
    model = build_model("egnn", TINY_EGNN) if weights is None else weights
    save_model(folder, model, "egnn", TINY_EGNN, {"method": method, "model": {"name": "egnn"}})
    if run_id:
        (folder / "mlflow_run_id.txt").write_text(run_id + "\n")
    return folder
