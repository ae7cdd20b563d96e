"""The generation code: labels are -dE/dx at every level, atom order is kept, chunks resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.generate.labelers import (
    BOHR_TO_ANGSTROM,
    HARTREE_TO_KCAL,
    CcsdLabeler,
    PbeLabeler,
    check_topology_order,
    make_labeler,
)
from harness.data.generate.labelling import chunk_plan, evenly_spaced_frames, label_in_chunks
from harness.data.generate.molecule import atomic_numbers_of, build_molecule, positions_of
from harness.data.generate.pipeline import GenerationPlan, generate
from harness.data.generate.sampling import SamplingSettings
from harness.data.store import load_dataset, read_level_labels


@pytest.fixture(scope="module")
def ethanol():
    return build_molecule("CCO", seed=0)


def central_difference_forces(labeler, positions: np.ndarray, step: float = 1e-4) -> np.ndarray:
    forces = np.empty_like(positions)
    for atom in range(len(positions)):
        for axis in range(3):
            plus, minus = positions.copy(), positions.copy()
            plus[atom, axis] += step
            minus[atom, axis] -= step
            forces[atom, axis] = -(labeler(plus)[0] - labeler(minus)[0]) / (2 * step)
    return forces


@pytest.mark.parametrize("level", ["xtb", "mmff94", "gaff2"])
def test_cheap_level_forces_are_minus_energy_gradient(level, ethanol, tmp_path):
    labeler = make_labeler(level, ethanol, tmp_path)
    rng = np.random.default_rng(1)
    positions = positions_of(ethanol) + rng.normal(scale=0.05, size=(9, 3))
    _, forces = labeler(positions)
    np.testing.assert_allclose(forces, central_difference_forces(labeler, positions),
                               atol=2e-3, rtol=1e-4)


def test_ethanol_atom_order_matches_md17(ethanol):
    assert atomic_numbers_of(ethanol).tolist() == [6, 6, 8, 1, 1, 1, 1, 1, 1]


def test_gaff2_topology_keeps_the_molecule_atom_order(ethanol, tmp_path):
    from openmm import app

    from harness.data.generate.labelers import parameterise_gaff2

    prmtop = app.AmberPrmtopFile(str(parameterise_gaff2(ethanol, tmp_path)))
    check_topology_order(prmtop.topology, ethanol)
    from rdkit import Chem

    reordered = Chem.RenumberAtoms(ethanol, [2, 1, 0, 3, 4, 5, 6, 7, 8])
    with pytest.raises(RuntimeError, match="atom order"):
        check_topology_order(prmtop.topology, reordered)


def test_ccsd_gradient_matches_finite_differences_on_h2():
    labeler = CcsdLabeler(np.array([1, 1]), basis="sto-3g")
    positions = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]])
    energy, forces = labeler(positions)
    assert energy == pytest.approx(-1.1373 * HARTREE_TO_KCAL, abs=0.5)  # CCSD = FCI for H2
    np.testing.assert_allclose(forces, central_difference_forces(labeler, positions, 2e-4),
                               rtol=1e-4, atol=1e-6)
    assert forces[0, 2] == pytest.approx(-forces[1, 2])


def test_pbe_gradient_matches_finite_differences_on_water():
    labeler = PbeLabeler(np.array([8, 1, 1]))
    positions = np.array([[0.0, 0.0, 0.12], [0.0, 0.77, -0.47], [0.0, -0.75, -0.49]])
    energy, forces = labeler(positions)
    assert energy == pytest.approx(-76.2 * HARTREE_TO_KCAL, abs=0.2 * HARTREE_TO_KCAL)
    np.testing.assert_allclose(forces, central_difference_forces(labeler, positions, 1e-3),
                               atol=0.02)  # kcal/mol/A; the grid moves with the atoms
    np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=0.05)


def test_unit_constants_are_codata():
    assert HARTREE_TO_KCAL == pytest.approx(627.5095, abs=1e-3)
    assert BOHR_TO_ANGSTROM == pytest.approx(0.529177, abs=1e-6)


def test_chunks_are_interleaved_over_the_whole_trajectory():
    targets = evenly_spaced_frames(10_000, 1000)
    chunks = chunk_plan(targets, chunk_size=20)
    assert len(chunks) == 50
    assert sorted(np.concatenate(chunks).tolist()) == targets.tolist()
    assert chunks[0].min() < 100 and chunks[0].max() > 9_000


class CountingLabeler:
    level = "counting"
    description = "sum of coordinates, for tests"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        return float(positions.sum()), -np.ones_like(positions)


def test_labelling_resumes_without_redoing_finished_chunks(tmp_path):
    positions = np.random.default_rng(0).normal(size=(30, 3, 3))
    targets = np.arange(30)
    out = tmp_path / "labels" / "counting"
    labeler = CountingLabeler()
    assert label_in_chunks(labeler, positions, targets, out, chunk_size=10, progress=False) == 3
    (out / "chunk_0001.npz").unlink()  # as if killed while writing chunk 1
    rerun = CountingLabeler()
    assert label_in_chunks(rerun, positions, targets, out, chunk_size=10, progress=False) == 1
    assert rerun.calls == 10
    labels = read_level_labels(tmp_path, "counting")
    assert labels["frame_index"].tolist() == list(range(30))
    np.testing.assert_allclose(labels["energies"], positions.sum(axis=(1, 2)))


def test_generate_writes_a_loadable_dataset_with_costs_and_card(tmp_path):
    plan = GenerationPlan(
        sampling=SamplingSettings(n_frames=12, equilibration_steps=10, steps_between_frames=2),
        levels=("xtb", "mmff94"),
    )
    folder = Path(tmp_path) / "ethanol"
    generate(folder, plan, progress=False)
    dataset = load_dataset(folder)
    assert set(dataset.levels) == {"unlabeled", "xtb", "mmff94"}
    assert len(dataset["xtb"]) == 12 and dataset["unlabeled"].temperature_K == 500.0
    assert dataset["xtb"].seconds_per_label > dataset["mmff94"].seconds_per_label > 0
    np.testing.assert_array_equal(dataset["xtb"].positions, dataset["unlabeled"].positions)
    assert "| xtb |" in (folder / "CARD.md").read_text()


def test_generate_from_an_xyz_file_keeps_its_atom_order(ethanol, tmp_path):
    from ase import Atoms
    from ase.io import write

    order = [2, 8, 0, 5, 1, 7, 3, 6, 4]  # oxygen first, hydrogens shuffled
    xyz = tmp_path / "ethanol.xyz"
    write(xyz, Atoms(numbers=atomic_numbers_of(ethanol)[order],
                     positions=positions_of(ethanol)[order]))
    plan = GenerationPlan(
        xyz=xyz, levels=("mmff94",),
        sampling=SamplingSettings(n_frames=3, equilibration_steps=5, steps_between_frames=1),
    )
    generate(tmp_path / "from-xyz", plan, progress=False)
    dataset = load_dataset(tmp_path / "from-xyz")
    assert dataset["mmff94"].atomic_numbers.tolist() == atomic_numbers_of(ethanol)[order].tolist()
    assert len(dataset["mmff94"]) == 3
    assert "SMILES `CCO`" in (tmp_path / "from-xyz" / "CARD.md").read_text()
