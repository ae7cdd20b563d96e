"""A topology built from a geometry keeps the file's atom order: atom i of the file is atom i
of the MMFF94 / GAFF2 molecule, whatever order a SMILES would give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.generate.labelers import make_labeler
from harness.data.generate.molecule import (
    bonds_of,
    build_molecule,
    connectivity_of,
    molecule_from_geometry,
)
from harness.data.store import load_dataset
from harness.errors import DataError

ETHANOL = Path(__file__).resolve().parents[3] / "data" / "ethanol"
# A reordering that puts the oxygen first and shuffles the hydrogens among the carbons.
PERMUTATION = np.array([2, 8, 0, 5, 1, 7, 3, 6, 4])


@pytest.fixture(scope="module")
def ethanol_frames():
    frames = load_dataset(ETHANOL)["unlabeled"]
    return frames.atomic_numbers, frames.positions[:5]


def test_bonds_found_from_a_geometry_match_the_known_graph(ethanol_frames):
    atomic_numbers, positions = ethanol_frames
    known = bonds_of(build_molecule("CCO"))  # the order data/ethanol was generated in
    assert bonds_of(molecule_from_geometry(atomic_numbers, positions[0])) == known
    assert connectivity_of(atomic_numbers, positions[0]) == known


def test_mmff94_labels_follow_a_permuted_atom_order(ethanol_frames, tmp_path):
    atomic_numbers, positions = ethanol_frames
    permuted_numbers, permuted_positions = atomic_numbers[PERMUTATION], positions[:, PERMUTATION]
    assert permuted_numbers.tolist() != atomic_numbers.tolist()
    original = make_labeler("mmff94", molecule_from_geometry(atomic_numbers, positions[0]),
                            tmp_path)
    permuted = make_labeler("mmff94",
                            molecule_from_geometry(permuted_numbers, permuted_positions[0]),
                            tmp_path)
    for frame, permuted_frame in zip(positions, permuted_positions, strict=True):
        energy, forces = original(frame)
        permuted_energy, permuted_forces = permuted(permuted_frame)
        assert permuted_energy == pytest.approx(energy, abs=1e-8)
        np.testing.assert_allclose(permuted_forces, forces[PERMUTATION], atol=1e-8)
    assert abs(original(permuted_positions[0])[0] - permuted(permuted_positions[0])[0]) > 1.0


def test_a_geometry_topology_reproduces_the_smiles_topology_labels(tmp_path):
    dataset = load_dataset(ETHANOL)
    stored = dataset["mmff94"].subset(np.arange(5))
    labeler = make_labeler("mmff94", molecule_from_geometry(stored.atomic_numbers,
                                                            stored.positions[0]), tmp_path)
    for frame, energy, forces in zip(stored.positions, stored.energies, stored.forces,
                                     strict=True):
        labelled_energy, labelled_forces = labeler(frame)
        assert labelled_energy == pytest.approx(energy, abs=1e-6)
        np.testing.assert_allclose(labelled_forces, forces, rtol=1e-5, atol=1e-4)


def test_a_geometry_without_valid_bonds_is_a_data_error():
    methyl = np.array([[0.0, 0.0, 0.0], [1.09, 0.0, 0.0], [-0.5, 0.94, 0.0], [-0.5, -0.94, 0.0]])
    with pytest.raises(DataError) as error:
        molecule_from_geometry(np.array([6, 1, 1, 1]), methyl, source="methyl.xyz")
    assert error.value.field == "positions" and "methyl.xyz" in str(error.value)
    assert "charge 0" in str(error.value)


def test_gaff2_labels_follow_a_permuted_atom_order(ethanol_frames, tmp_path):
    """Two antechamber runs (AM1-BCC charges) on the same geometry listed in two orders."""
    atomic_numbers, positions = ethanol_frames
    original = make_labeler("gaff2", molecule_from_geometry(atomic_numbers, positions[0]),
                            tmp_path / "original")
    permuted = make_labeler("gaff2", molecule_from_geometry(atomic_numbers[PERMUTATION],
                                                            positions[0, PERMUTATION]),
                            tmp_path / "permuted")
    for frame in positions:
        energy, forces = original(frame)
        permuted_energy, permuted_forces = permuted(frame[PERMUTATION])
        assert permuted_energy == pytest.approx(energy, abs=1e-8)
        np.testing.assert_allclose(permuted_forces, forces[PERMUTATION], atol=1e-8)
