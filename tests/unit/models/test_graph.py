"""models.graph checked by hand on a three-atom molecule and on small batches."""

from __future__ import annotations

import pytest
import torch

from models.graph import edge_vectors, radius_graph, reverse_edges

# water-like: O-H 0.96 A twice, H-H about 1.52 A
WATER = torch.tensor([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]],
                     dtype=torch.float64)


def edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(source), int(target)) for source, target in edge_index.T}


def test_all_pairs_of_three_atoms_grouped_by_target():
    edge_index = radius_graph(WATER, torch.zeros(3, dtype=torch.long), cutoff=None)
    assert edge_index.tolist() == [[1, 2, 0, 2, 0, 1], [0, 0, 1, 1, 2, 2]]


def test_cutoff_drops_the_long_hydrogen_pair():
    edge_index = radius_graph(WATER, torch.zeros(3, dtype=torch.long), cutoff=1.0)
    assert edge_set(edge_index) == {(1, 0), (2, 0), (0, 1), (0, 2)}


def test_batch_has_no_edges_between_molecules():
    positions = torch.cat([WATER, WATER[:2] + 0.1])
    batch = torch.tensor([0, 0, 0, 1, 1])
    edge_index = radius_graph(positions, batch, cutoff=None)
    assert edge_set(edge_index) == {(1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (1, 2),
                                    (4, 3), (3, 4)}


def test_atoms_of_a_molecule_need_not_be_contiguous():
    positions = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
    interleaved = torch.tensor([1, 0, 0, 1, 1, 0, 1])
    edge_index = radius_graph(positions, interleaved, cutoff=None)
    expected = {(j, i) for i in range(7) for j in range(7)
                if i != j and interleaved[i] == interleaved[j]}
    assert edge_set(edge_index) == expected
    assert len(edge_index.T) == len(expected)


def test_single_atom_and_empty_molecules_have_no_edges():
    edge_index = radius_graph(torch.zeros(1, 3), torch.tensor([1]), None, n_molecules=3)
    assert edge_index.shape == (2, 0)


def test_edge_vectors_point_from_source_to_target_and_are_differentiable():
    positions = WATER.clone().requires_grad_(True)
    edge_index = torch.tensor([[1], [0]])
    vectors, distances = edge_vectors(positions, edge_index)
    assert vectors.tolist() == [[-0.96, 0.0, 0.0]]
    assert distances.tolist() == pytest.approx([0.96])
    (gradient,) = torch.autograd.grad(distances.sum(), positions)
    assert gradient.tolist() == [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_reverse_edges_maps_each_edge_to_its_reverse():
    positions = torch.cat([WATER, WATER[:2] + 0.1])
    edge_index = radius_graph(positions, torch.tensor([0, 0, 0, 1, 1]), cutoff=1.0)
    reverse = reverse_edges(edge_index, n_atoms=5)
    assert torch.equal(edge_index[:, reverse], edge_index.flip(0))


def test_reverse_edges_rejects_an_asymmetric_graph():
    with pytest.raises(ValueError, match="symmetric"):
        reverse_edges(torch.tensor([[0, 1], [1, 2]]), n_atoms=3)
