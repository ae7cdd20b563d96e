"""Molecular graphs in plain torch, for batches of small molecules.

torch_geometric's ``radius_graph`` needs torch-cluster/pyg-lib; these helpers need neither.
Edges are directed and follow torch_geometric's message-passing convention: ``edge_index[0]``
is the source atom j (the neighbour), ``edge_index[1]`` the target atom i (the centre).
Pairs are enumerated molecule by molecule (block-diagonal), so the work grows with the sum of
squared molecule sizes, not with the square of the number of atoms in the batch.
The graph is built without gradients; models compute differentiable vectors and distances
from positions with ``edge_vectors`` so that forces flow through them.
"""

from __future__ import annotations

import torch
from torch import Tensor


def radius_graph(positions: Tensor, batch: Tensor, cutoff: float | None = None,
                 n_molecules: int | None = None) -> Tensor:
    """Directed edges (2, n_edges) between distinct atoms of the same molecule.

    ``cutoff`` in Angstrom keeps pairs with distance strictly below it; None keeps all pairs of
    each molecule (the fully connected graph EGNN uses for small molecules). Atoms of a molecule
    need not be contiguous in ``batch``. Edges come grouped by target atom, in order of
    ``batch`` and then of atom index within each group.
    """
    with torch.no_grad():
        order = torch.argsort(batch, stable=True)
        sizes = torch.bincount(batch, minlength=n_molecules or 0)
        starts = torch.cumsum(sizes, 0) - sizes
        sorted_batch = batch[order]
        # each sorted atom is paired with every atom of its molecule, itself included
        pairs_per_atom = sizes[sorted_batch]
        target_slot = torch.repeat_interleave(
            torch.arange(len(order), device=batch.device), pairs_per_atom)
        first_pair = torch.cumsum(pairs_per_atom, 0) - pairs_per_atom
        offset_in_molecule = (torch.arange(len(target_slot), device=batch.device)
                              - first_pair[target_slot])
        source_slot = starts[sorted_batch[target_slot]] + offset_in_molecule
        keep = source_slot != target_slot
        source, target = order[source_slot[keep]], order[target_slot[keep]]
        if cutoff is not None:
            distances = (positions[target] - positions[source]).norm(dim=-1)
            within = distances < cutoff
            source, target = source[within], target[within]
        return torch.stack([source, target])


def edge_vectors(positions: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """Vectors from source to target atom (n_edges, 3) and their lengths (n_edges,), Angstrom.

    Differentiable with respect to ``positions``; atoms must not coincide (the gradient of the
    length is undefined at zero).
    """
    vectors = positions[edge_index[1]] - positions[edge_index[0]]
    return vectors, vectors.norm(dim=-1)


def reverse_edges(edge_index: Tensor, n_atoms: int) -> Tensor:
    """Index of the reverse of each edge: ``edge_index[:, r]`` equals ``edge_index.flip(0)``.

    The graph must be symmetric (every j->i has an i->j), as ``radius_graph`` returns.
    """
    source, target = edge_index
    keys = source * n_atoms + target
    sorted_keys, order = torch.sort(keys)
    position = torch.searchsorted(sorted_keys, target * n_atoms + source)
    position = position.clamp(max=len(keys) - 1)
    if not torch.equal(sorted_keys[position], target * n_atoms + source):
        raise ValueError("reverse_edges needs a symmetric graph: some edge has no reverse")
    return order[position]
