"""Triplets k -> j -> i of a directed molecular graph, and their angles, in plain torch.

Convention (that of ``models.graph``): edge e = ``edge_index[:, e]`` goes from its source
j = ``edge_index[0, e]`` (the neighbour) to its target i = ``edge_index[1, e]`` (the centre).
A triplet pairs an edge j -> i (the edge being updated, ``ji``) with an edge k -> j that ends
at the source of j -> i (the incoming edge, ``kj``), for every k != i: the message on k -> j
flows on into j -> i, as in DimeNet and GemNet-T. Backtracking (k == i, the reverse edge
i -> j) is excluded. The angle of the triplet is the one at the shared atom j between the
bonds j-k and j-i.
"""

from __future__ import annotations

import torch
from torch import Tensor


def triplet_indices(edge_index: Tensor, n_atoms: int) -> tuple[Tensor, Tensor]:
    """Edge indices ``(kj, ji)`` of every triplet k -> j -> i with k != i, each (n_triplets,).

    Triplets come grouped by the updated edge ``ji`` in edge order, and within a group in the
    order of the incoming edges k -> j in ``edge_index``. Built without gradients.
    """
    with torch.no_grad():
        source, target = edge_index
        device = edge_index.device
        incoming = torch.argsort(target, stable=True)  # edges grouped by their target atom
        in_degree = torch.bincount(target, minlength=n_atoms)
        first_incoming = torch.cumsum(in_degree, 0) - in_degree
        # every edge j -> i is paired with each of the in_degree[j] edges k -> j
        per_edge = in_degree[source]
        ji = torch.repeat_interleave(torch.arange(len(source), device=device), per_edge)
        group_start = torch.cumsum(per_edge, 0) - per_edge
        rank = torch.arange(len(ji), device=device) - group_start[ji]
        kj = incoming[first_incoming[source[ji]] + rank]
        keep = source[kj] != target[ji]
        return kj[keep], ji[keep]


def triplet_cosines(vectors: Tensor, distances: Tensor, kj: Tensor, ji: Tensor) -> Tensor:
    """cos of the angle at j between j -> k and j -> i, (n_triplets,); differentiable.

    ``vectors`` (n_edges, 3) point from source to target (``models.graph.edge_vectors``), so
    the bond j -> k is minus the vector of edge k -> j.
    """
    dot = -(vectors[kj] * vectors[ji]).sum(dim=-1)
    return dot / (distances[kj] * distances[ji])


def triplet_slots(ji: Tensor, n_edges: int) -> tuple[Tensor, int]:
    """Rank of each triplet among those of its updated edge, and the largest such group.

    With them, per-triplet rows can be laid out densely as (n_edges, largest group, ...), so
    that a sum over each edge's triplets becomes a batched matrix product. ``ji`` must be
    grouped (as ``triplet_indices`` returns it).
    """
    with torch.no_grad():
        counts = torch.bincount(ji, minlength=n_edges)
        first = torch.cumsum(counts, 0) - counts
        slots = torch.arange(len(ji), device=ji.device) - first[ji]
        return slots, int(counts.max()) if n_edges else 0
