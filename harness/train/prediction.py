"""Model predictions over a list of graphs, batched, with forces from autograd."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from harness.train.batching import make_loader
from models.base import ForceField, energy_and_forces


def predict(model: ForceField, graphs: list[Data], batch_size: int, device: torch.device
            ) -> tuple[np.ndarray, np.ndarray]:
    """Energies (n_frames,) in kcal/mol and forces (n_frames, n_atoms, 3) in kcal/mol/A.

    All graphs must be frames of one molecule (same number of atoms), in their given order.
    """
    model.eval()
    energies, forces = [], []
    for batch in make_loader(graphs, batch_size, shuffle=False):
        batch = batch.to(device)
        energy, force = energy_and_forces(model, batch.z, batch.pos, batch.batch,
                                          batch.num_graphs)
        energies.append(energy.detach().cpu().double().numpy())
        forces.append(force.detach().cpu().double().numpy().reshape(batch.num_graphs, -1, 3))
    return np.concatenate(energies), np.concatenate(forces)


def labels(graphs: list[Data]) -> tuple[np.ndarray, np.ndarray]:
    """The graphs' energy and force labels, in the shapes ``predict`` returns."""
    energies = np.array([float(graph.energy) for graph in graphs])
    forces = np.stack([graph.forces.double().numpy() for graph in graphs])
    return energies, forces
