"""What every backbone shares: a per-molecule energy, forces as -dE/dx, and a fitted scale/shift.

A backbone subclasses ``ForceField`` and implements ``raw_energy``: a dimensionless energy per
molecule. ``forward`` turns it into kcal/mol with a per-element energy shift and a global scale
fitted on the training frames (mean energy per atom by element, force RMS), so that a fresh
network starts well conditioned whatever the level of theory's energy zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter


class ForceField(nn.Module):
    """Energy model E(z, x) in kcal/mol; forces come from autograd and are conservative."""

    registry_name: str = ""
    hyperparameters: dict

    def __init__(self, max_atomic_number: int = 10) -> None:
        super().__init__()
        self.max_atomic_number = max_atomic_number
        self.register_buffer("atomic_energy_shift", torch.zeros(max_atomic_number + 1))
        self.register_buffer("energy_scale", torch.ones(()))

    @classmethod
    def missing_dependency(cls) -> str | None:
        """What must be installed before this backbone can be built; None: nothing.

        A backbone wrapping an optional package stays registered without it (configs can name
        it) and says here what is missing, so that benchmarks and tests can leave it out.
        """
        return None

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        """Dimensionless energy per molecule, shape (n_molecules,)."""
        raise NotImplementedError

    def forward(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                n_molecules: int | None = None) -> Tensor:
        """Energies in kcal/mol, shape (n_molecules,); positions in Angstrom."""
        if n_molecules is None:
            n_molecules = int(batch.max()) + 1
        raw = self.raw_energy(atomic_numbers, positions, batch, n_molecules)
        shift = scatter(self.atomic_energy_shift[atomic_numbers], batch, dim=0,
                        dim_size=n_molecules, reduce="sum")
        return raw * self.energy_scale + shift

    @torch.no_grad()
    def fit_scale_shift(self, atomic_numbers: Sequence[np.ndarray], energies: np.ndarray,
                        forces: Sequence[np.ndarray]) -> None:
        """Per-element energy shift by least squares on element counts; scale = force RMS.

        ``atomic_numbers`` and ``forces`` hold one array per frame (molecules may differ).
        """
        counts = np.zeros((len(energies), self.max_atomic_number + 1))
        for row, numbers in enumerate(atomic_numbers):
            counts[row] = np.bincount(numbers, minlength=self.max_atomic_number + 1)
        shift, *_ = np.linalg.lstsq(counts, np.asarray(energies, dtype=np.float64), rcond=None)
        force_rms = float(np.sqrt(np.mean(np.concatenate([f.reshape(-1) for f in forces]) ** 2)))
        self.atomic_energy_shift.copy_(torch.as_tensor(shift))
        self.energy_scale.fill_(force_rms if force_rms > 0 else 1.0)


def unpack_batch(batch: Any) -> tuple[Tensor, Tensor, Tensor, int]:
    """(atomic numbers, positions, molecule index, number of molecules) of one batch.

    ``batch`` is a torch_geometric batch (``z``, ``pos``, ``batch``, ``num_graphs``), as the
    trainer's loaders give, or a tuple (atomic numbers, positions, molecule index).
    """
    if isinstance(batch, tuple | list):
        atomic_numbers, positions, molecule = batch
        return atomic_numbers, positions, molecule, int(molecule.max()) + 1
    return batch.z, batch.pos, batch.batch, int(batch.num_graphs)


def energy_and_forces(model: ForceField, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                      n_molecules: int | None = None, create_graph: bool = False
                      ) -> tuple[Tensor, Tensor]:
    """Energies (n_molecules,) and forces -dE/dx (n_atoms, 3).

    ``create_graph=True`` keeps the graph of the forces, needed to train on forces (double
    backward) and for the Jacobian term of score matching.
    """
    if not positions.requires_grad:
        positions = positions.requires_grad_(True)
    energies = model(atomic_numbers, positions, batch, n_molecules)
    (gradient,) = torch.autograd.grad(energies.sum(), positions, create_graph=create_graph)
    return energies, -gradient
