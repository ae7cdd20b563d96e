"""EGNN (Satorras, Hoogeboom and Welling 2021) as an invariant energy model.

Messages see atom-type features and squared interatomic distances (Angstrom^2), optionally
expanded in a Gaussian radial basis, so the energy is invariant under rotations, translations,
reflections and permutations, and the forces -dE/dx from autograd are equivariant and
conservative. Coordinate updates (the paper's x-update) are optional: they keep the energy
invariant and the forces exact gradients because autograd differentiates through them.
Defaults follow the paper: 5 layers, 128 features, SiLU, sum aggregation, sum readout.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from models.base import ForceField
from models.errors import HyperparameterError
from models.graph import edge_vectors, radius_graph
from models.registry import register_model

OXYGEN = 8


def cosine_envelope(distances: Tensor, cutoff: float) -> Tensor:
    """Weight going smoothly from 1 at distance 0 to 0 at ``cutoff`` (Angstrom), with zero slope.

    Multiplying messages by it keeps the energy continuous and differentiable when atoms cross
    the cutoff, so that forces stay conservative in molecular dynamics.
    """
    return 0.5 * (torch.cos(torch.pi * distances / cutoff) + 1.0)


class RadialFeatures(nn.Module):
    """Squared distance (Angstrom^2), followed by Gaussians of the distance if requested."""

    def __init__(self, basis_size: int, max_distance: float) -> None:
        super().__init__()
        self.size = 1 + basis_size
        self.register_buffer("centers", torch.linspace(0.0, max_distance, basis_size))
        spacing = max_distance / max(basis_size - 1, 1)
        self.inverse_width = 1.0 / spacing**2

    def forward(self, distances: Tensor) -> Tensor:
        distances = distances.unsqueeze(-1)
        gaussians = torch.exp(-self.inverse_width * (distances - self.centers) ** 2)
        return torch.cat([distances**2, gaussians], dim=-1)


class EquivariantLayer(nn.Module):
    """One E(n)-equivariant layer: edge messages, optional edge gates, node and x updates.

    The first linear map of the edge MLP acts on [h_i, h_j, radial_ij]; it is applied to atoms
    before gathering onto edges (same function, fewer multiplications).
    """

    def __init__(self, n_features: int, n_radial: int, edge_inference: bool,
                 update_coordinates: bool) -> None:
        super().__init__()
        self.target_projection = nn.Linear(n_features, n_features)
        self.source_projection = nn.Linear(n_features, n_features, bias=False)
        self.radial_projection = nn.Linear(n_radial, n_features, bias=False)
        self.edge_mlp = nn.Sequential(nn.SiLU(), nn.Linear(n_features, n_features), nn.SiLU())
        self.edge_gate = (nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())
                          if edge_inference else None)
        self.node_mlp = nn.Sequential(nn.Linear(2 * n_features, n_features), nn.SiLU(),
                                      nn.Linear(n_features, n_features))
        self.coordinate_mlp = None
        if update_coordinates:
            last = nn.Linear(n_features, 1, bias=False)
            nn.init.xavier_uniform_(last.weight, gain=0.001)  # start near the identity map
            self.coordinate_mlp = nn.Sequential(nn.Linear(n_features, n_features), nn.SiLU(),
                                                last)

    def forward(self, features: Tensor, positions: Tensor, edge_index: Tensor, vectors: Tensor,
                distances: Tensor, radial: Tensor, envelope: Tensor | None
                ) -> tuple[Tensor, Tensor]:
        source, target = edge_index
        messages = self.edge_mlp(self.target_projection(features)[target]
                                 + self.source_projection(features)[source]
                                 + self.radial_projection(radial))
        if self.edge_gate is not None:
            messages = messages * self.edge_gate(messages)
        if envelope is not None:
            messages = messages * envelope.unsqueeze(-1)
        aggregated = scatter(messages, target, dim=0, dim_size=len(features), reduce="sum")
        features = features + self.node_mlp(torch.cat([features, aggregated], dim=-1))
        if self.coordinate_mlp is not None:
            # vectors point from x_j to x_i; normalised by (d + 1) as in the authors' code
            shifts = vectors / (distances + 1.0).unsqueeze(-1) * self.coordinate_mlp(messages)
            positions = positions + scatter(shifts, target, dim=0, dim_size=len(positions),
                                            reduce="mean")
        return features, positions


@register_model("egnn")
class EGNN(ForceField):
    """Energy = sum over atoms of an MLP of EGNN node features (dimensionless, see ForceField).

    ``cutoff`` in Angstrom (None: every pair of atoms of a molecule interacts, the paper's
    setting for small molecules; otherwise messages fade out with a cosine envelope).
    ``radial_basis_size`` Gaussians up to ``radial_basis_max_distance`` Angstrom are appended to
    the squared distance (0: the paper's squared distance only). ``edge_inference`` gates each
    message by a learned weight in (0, 1), as the paper does for molecules.
    """

    def __init__(self, max_atomic_number: int = 10, n_features: int = 128, n_layers: int = 5,
                 cutoff: float | None = None, radial_basis_size: int = 0,
                 radial_basis_max_distance: float = 5.0, edge_inference: bool = True,
                 update_coordinates: bool = False) -> None:
        super().__init__(max_atomic_number)
        if max_atomic_number < OXYGEN:
            raise HyperparameterError(
                "egnn", "model.max_atomic_number",
                f"must be at least {OXYGEN} (H, C, N, O); got {max_atomic_number}")
        for key, value in (("n_features", n_features), ("n_layers", n_layers)):
            if value < 1:
                raise HyperparameterError("egnn", f"model.{key}",
                                          f"must be positive; got {value}")
        self.cutoff = cutoff
        self.embedding = nn.Embedding(max_atomic_number + 1, n_features)
        self.radial = RadialFeatures(radial_basis_size, radial_basis_max_distance)
        # the last layer's coordinate update would never be read: it has none
        self.layers = nn.ModuleList(
            EquivariantLayer(n_features, self.radial.size, edge_inference,
                             update_coordinates and index < n_layers - 1)
            for index in range(n_layers)
        )
        self.atom_energy = nn.Sequential(nn.Linear(n_features, n_features), nn.SiLU(),
                                         nn.Linear(n_features, 1))

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        edge_index = radius_graph(positions, batch, self.cutoff, n_molecules)
        features = self.embedding(atomic_numbers)
        vectors, distances = edge_vectors(positions, edge_index)
        # the envelope uses the input distances: the graph was cut on them
        envelope = None if self.cutoff is None else cosine_envelope(distances, self.cutoff)
        radial = self.radial(distances)
        for layer in self.layers:
            features, positions = layer(features, positions, edge_index, vectors, distances,
                                        radial, envelope)
            if layer.coordinate_mlp is not None:
                vectors, distances = edge_vectors(positions, edge_index)
                radial = self.radial(distances)
        atom_energies = self.atom_energy(features).squeeze(-1)
        return scatter(atom_energies, batch, dim=0, dim_size=n_molecules, reduce="sum")
