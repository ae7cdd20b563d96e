"""The GemNet-T energy model registered as ``"gemnet_t"``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from models.base import ForceField, unpack_batch
from models.errors import HyperparameterError
from models.gemnet.bases import RadialBesselBasis, SphericalBasis
from models.gemnet.blocks import (
    AtomEmbedding,
    Dense,
    EdgeEmbedding,
    GraphIndices,
    InteractionBlock,
    OutputBlock,
    SphericalProjection,
)
from models.gemnet.scaling import fit_scale_factors
from models.gemnet.triplets import triplet_cosines, triplet_indices, triplet_slots
from models.graph import edge_vectors, radius_graph, reverse_edges
from models.registry import register_model

OXYGEN = 8


@register_model("gemnet_t")
class GemNetT(ForceField):
    """GemNet-T (Gasteiger, Becker and Guennemann 2021), the triplets-only GemNet.

    Energy = sum over atoms of the outputs of ``num_blocks + 1`` output blocks (one after the
    embedding, one after each interaction block), dimensionless (see ``ForceField``); forces
    are always -dE/dx from autograd (the paper's "direct forces" head is not offered: they
    would not be conservative). Edges join atoms of a molecule closer than ``cutoff``
    (Angstrom); the radial and triplet bases fade out with a polynomial envelope of exponent
    ``envelope_exponent``. ``num_radial`` Bessel functions encode distances; triplets k -> j -> i
    (``models.gemnet.triplets``) use ``num_spherical`` x ``num_radial`` spherical Fourier-Bessel
    functions of the distance j-i and the angle at j. Sizes: ``emb_size_atom`` atom embeddings,
    ``emb_size_edge`` messages, ``emb_size_trip`` down-projected messages in the triplet sum,
    ``emb_size_rbf``/``emb_size_cbf`` projected bases, ``emb_size_bil_trip`` the bilinear
    output; ``num_before_skip``/``num_after_skip`` residual layers around the message skip
    connection, ``num_concat`` after the message update, ``num_atom`` in the atom update and
    output blocks.

    Defaults are the paper's MD17 settings: cutoff 5 A, 4 blocks, sizes 128/128/64/16/16/64,
    num_before_skip 1, num_after_skip 2, num_concat 1, num_atom 2, 6 radial and 7 spherical
    functions, envelope exponent 5, ScaledSiLU activations. The authors also fit activation
    scale factors on training data (``fit_scaling``, called by the trainer before training;
    see ``models.gemnet.scaling``) and evaluate with an exponential moving average of the
    weights, decay 0.999: here the trainer keeps that average (``Schedule.ema_decay``, default
    0.999, ``harness/train/averaging.py``), not the model.
    """

    def __init__(self, max_atomic_number: int = 10, cutoff: float = 5.0, num_blocks: int = 4,
                 emb_size_atom: int = 128, emb_size_edge: int = 128, emb_size_trip: int = 64,
                 emb_size_rbf: int = 16, emb_size_cbf: int = 16, emb_size_bil_trip: int = 64,
                 num_before_skip: int = 1, num_after_skip: int = 2, num_concat: int = 1,
                 num_atom: int = 2, num_radial: int = 6, num_spherical: int = 7,
                 envelope_exponent: int = 5) -> None:
        super().__init__(max_atomic_number)
        if max_atomic_number < OXYGEN:
            raise HyperparameterError(
                "gemnet_t", "model.max_atomic_number",
                f"must be at least {OXYGEN} (H, C, N, O); got {max_atomic_number}")
        positive = {"num_blocks": num_blocks, "emb_size_atom": emb_size_atom,
                    "emb_size_edge": emb_size_edge, "emb_size_trip": emb_size_trip,
                    "emb_size_rbf": emb_size_rbf, "emb_size_cbf": emb_size_cbf,
                    "emb_size_bil_trip": emb_size_bil_trip, "num_radial": num_radial,
                    "num_spherical": num_spherical, "envelope_exponent": envelope_exponent}
        for key, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HyperparameterError("gemnet_t", f"model.{key}",
                                          f"must be a positive integer; got {value!r}")
        counts = {"num_before_skip": num_before_skip, "num_after_skip": num_after_skip,
                  "num_concat": num_concat, "num_atom": num_atom}
        for key, value in counts.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise HyperparameterError("gemnet_t", f"model.{key}",
                                          f"must be a non-negative integer; got {value!r}")
        if not cutoff > 0:
            raise HyperparameterError("gemnet_t", "model.cutoff",
                                      f"must be positive; got {cutoff!r}")
        self.cutoff = float(cutoff)
        self.radial_basis = RadialBesselBasis(num_radial, cutoff, envelope_exponent)
        self.spherical_basis = SphericalBasis(num_spherical, num_radial, cutoff,
                                              envelope_exponent)
        # basis projections shared by all blocks, as in the authors' model
        self.rbf_triplet = Dense(num_radial, emb_size_rbf)
        self.cbf_triplet = SphericalProjection(num_spherical, num_radial, emb_size_cbf)
        self.rbf_atom = Dense(num_radial, emb_size_rbf)
        self.rbf_output = Dense(num_radial, emb_size_rbf)
        self.atom_embedding = AtomEmbedding(max_atomic_number, emb_size_atom)
        self.edge_embedding = EdgeEmbedding(emb_size_atom, num_radial, emb_size_edge)
        self.interactions = nn.ModuleList(
            InteractionBlock(emb_size_atom, emb_size_edge, emb_size_trip, emb_size_rbf,
                             emb_size_cbf, emb_size_bil_trip, num_before_skip, num_after_skip,
                             num_concat, num_atom)
            for _ in range(num_blocks)
        )
        self.outputs = nn.ModuleList(
            OutputBlock(emb_size_atom, emb_size_edge, emb_size_rbf, num_atom)
            for _ in range(num_blocks + 1)
        )
        self.register_buffer("scaling_fitted", torch.zeros((), dtype=torch.bool))

    def graph(self, positions: Tensor, batch: Tensor, n_molecules: int) -> GraphIndices:
        """Edges within the cutoff, their reverses and the triplets (no gradients)."""
        n_atoms = len(positions)
        edge_index = radius_graph(positions, batch, self.cutoff, n_molecules)
        kj, ji = triplet_indices(edge_index, n_atoms)
        slot, max_triplets = triplet_slots(ji, edge_index.shape[1])
        return GraphIndices(edge_index[0], edge_index[1], reverse_edges(edge_index, n_atoms),
                            kj, ji, slot, max_triplets, n_atoms)

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        graph = self.graph(positions, batch, n_molecules)
        vectors, distances = edge_vectors(positions,
                                          torch.stack([graph.source, graph.target]))
        rbf = self.radial_basis(distances)
        cbf_radial = self.cbf_triplet(self.spherical_basis.radial(distances))
        cbf_angular = graph.pad_triplets(self.spherical_basis.angular(
            triplet_cosines(vectors, distances, graph.kj, graph.ji))).transpose(1, 2)
        rbf_triplet, rbf_atom, rbf_output = (self.rbf_triplet(rbf), self.rbf_atom(rbf),
                                             self.rbf_output(rbf))
        h = self.atom_embedding(atomic_numbers)
        m = self.edge_embedding(h, rbf, graph)
        atom_energies = self.outputs[0](m, rbf_output, graph)
        for interaction, output in zip(self.interactions, self.outputs[1:], strict=True):
            h, m = interaction(h, m, rbf_triplet, cbf_radial, cbf_angular, rbf_atom, graph)
            atom_energies = atom_energies + output(m, rbf_output, graph)
        return scatter(atom_energies, batch, dim=0, dim_size=n_molecules, reduce="sum")

    def fit_scaling(self, batches: Sequence[Any], refit: bool = False) -> bool:
        """Fit the activation scale factors on ``batches`` once; True if it fitted now.

        ``batches`` are torch_geometric batches (``z``, ``pos``, ``batch``, ``num_graphs``)
        or tuples (atomic numbers, positions, molecule index), on the model's device and in
        its dtype. Skipped (False) when the factors are already fitted, unless ``refit``:
        the flag is the buffer ``scaling_fitted``, saved in the state dict with the factors.
        """
        if bool(self.scaling_fitted) and not refit:
            return False
        was_training = self.training
        self.eval()
        try:
            fit_scale_factors(self, lambda batch: self.raw_energy(*unpack_batch(batch)), batches)
        finally:
            self.train(was_training)
        self.scaling_fitted.fill_(True)
        return True

