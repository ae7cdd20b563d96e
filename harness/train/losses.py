"""The training objectives: Eq. 1 / Eq. 2 (supervised, per-frame or per-atom weights) and score
matching.

Units: force losses in (kcal/mol/A) or (kcal/mol/A)^2, energy losses in kcal/mol or
(kcal/mol)^2. Each objective maps (model, batch) to a scalar to minimise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.utils import scatter

from models.base import ForceField, energy_and_forces

BOLTZMANN_KCAL_PER_MOL_K = 0.0019872

Objective = Callable[[ForceField, Batch], Tensor]


def elementwise(kind: Literal["mae", "mse"], prediction: Tensor, target: Tensor) -> Tensor:
    difference = prediction - target
    return difference.abs() if kind == "mae" else difference.square()


def per_frame_losses(model: ForceField, batch: Batch, force_loss: Literal["mae", "mse"],
                     energy_loss: Literal["mae", "mse"], create_graph: bool
                     ) -> tuple[Tensor, Tensor]:
    """Force loss averaged over each frame's atoms (each times its share ``atom_weight`` of the
    frame's weight) and components, and energy loss, per frame."""
    energies, forces = energy_and_forces(model, batch.z, batch.pos, batch.batch,
                                         batch.num_graphs, create_graph=create_graph)
    force_terms = elementwise(force_loss, forces, batch.forces).mean(dim=-1) * batch.atom_weight
    frame_force = scatter(force_terms, batch.batch, dim=0, dim_size=batch.num_graphs,
                          reduce="mean")
    frame_energy = elementwise(energy_loss, energies, batch.energy)
    return frame_force, frame_energy


@dataclass(frozen=True)
class SupervisedLoss:
    """Eq. 1 with per-frame weights (Eq. 2): sum_j w_j [(1-rho) l_f,j + rho l_e,j] / norm.

    ``norm`` is the number of frames (``mean``) or the sum of the weights (``weighted_mean``).
    With all weights 1 both are Eq. 1. Weights are constants: a frame of weight 0 gives no
    gradient whatever its labels. Per-atom weights w_ji enter as w_j = mean_i w_ji and the atoms'
    shares w_ji / w_j inside l_f,j (``frame_and_atom_weights``): the loss is
    sum_j [(1-rho) mean_i w_ji l_f,ji + rho w_j l_e,j] / norm.
    """

    rho: float = 0.001
    force_loss: Literal["mae", "mse"] = "mse"
    energy_loss: Literal["mae", "mse"] = "mse"
    weight_normalisation: Literal["mean", "weighted_mean"] = "mean"

    def __call__(self, model: ForceField, batch: Batch, create_graph: bool = True) -> Tensor:
        frame_force, frame_energy = per_frame_losses(model, batch, self.force_loss,
                                                     self.energy_loss, create_graph)
        weights = batch.weight
        total = (weights * ((1.0 - self.rho) * frame_force + self.rho * frame_energy)).sum()
        if self.weight_normalisation == "weighted_mean":
            return total / weights.sum().clamp_min(torch.finfo(weights.dtype).tiny)
        return total / batch.num_graphs


def random_projections(n_projections: int, like: Tensor,
                       kind: Literal["rademacher", "gaussian"]) -> Tensor:
    """(n_projections, n_atoms, 3) directions with E[v v^T] = I, from torch's global RNG."""
    shape = (n_projections, *like.shape)
    if kind == "gaussian":
        return torch.randn(shape, dtype=like.dtype, device=like.device)
    signs = torch.randint(0, 2, shape, device=like.device).to(like.dtype)
    return 2.0 * signs - 1.0


@dataclass(frozen=True)
class SlicedScoreMatchingLoss:
    """Eq. 3 with sliced score matching (Song et al. 2020), per molecule, averaged.

    L = (1/beta) v^T d(v^T F)/dx + 1/2 ||F||^2, with F the model force (kcal/mol/A),
    1/beta = k_B T in kcal/mol, averaged over ``n_projections`` random directions v. The
    Jacobian-vector term goes through autograd, keeping the graph for the parameter gradient.
    """

    temperature_K: float
    n_projections: int = 1
    projection: Literal["rademacher", "gaussian"] = "rademacher"

    @property
    def thermal_energy(self) -> float:
        """k_B T in kcal/mol (= 1/beta)."""
        return BOLTZMANN_KCAL_PER_MOL_K * self.temperature_K

    def __call__(self, model: ForceField, batch: Batch, create_graph: bool = True) -> Tensor:
        positions = batch.pos.detach().requires_grad_(True)
        _, forces = energy_and_forces(model, batch.z, positions, batch.batch, batch.num_graphs,
                                      create_graph=True)
        directions = random_projections(self.n_projections, forces, self.projection)
        trace_estimate = torch.zeros(len(forces), dtype=forces.dtype, device=forces.device)
        for direction in directions:
            projected = (direction * forces).sum()
            (jacobian_vector,) = torch.autograd.grad(projected, positions,
                                                     create_graph=create_graph)
            trace_estimate = trace_estimate + (direction * jacobian_vector).sum(dim=-1)
        per_atom = trace_estimate / self.n_projections * self.thermal_energy \
            + 0.5 * forces.square().sum(dim=-1)
        per_molecule = scatter(per_atom, batch.batch, dim=0, dim_size=batch.num_graphs,
                               reduce="sum")
        return per_molecule.mean()
