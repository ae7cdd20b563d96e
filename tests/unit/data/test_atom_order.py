"""Atoms reordered between levels are found from shared geometries and refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.atom_order import atom_permutation, check_atom_order, order_free_descriptor
from harness.data.readers import combine_levels
from harness.data.splits import split_multi_fidelity
from harness.errors import DataError

CARBONS_SWAPPED = np.array([1, 0, 2, 3, 4, 5, 6, 7, 8])
CARBON_AND_OXYGEN_SWAPPED = np.array([2, 1, 0, 3, 4, 5, 6, 7, 8])


def test_descriptor_ignores_the_order_of_atoms_of_one_element(make_frames):
    frames = make_frames(n_frames=5)
    reordered = frames.positions[:, CARBONS_SWAPPED]
    assert np.array_equal(order_free_descriptor(frames.atomic_numbers, frames.positions),
                          order_free_descriptor(frames.atomic_numbers, reordered))


def test_two_swapped_carbons_are_found_despite_rounding(make_frames):
    accurate = make_frames(n_frames=40, level="ccsd", source="ccsd.npz")
    cheap = make_frames(level="xtb", source="xtb.npz", seed=1,
                        positions=accurate.positions[:20, CARBONS_SWAPPED] + 1e-4)
    assert atom_permutation(accurate, cheap).tolist() == CARBONS_SWAPPED.tolist()
    with pytest.raises(DataError, match=r"xtb\.npz: field 'atom order': the same molecule "
                       r"as level 'ccsd'.*moved: 0->1, 1->0") as error:
        check_atom_order(accurate, cheap)
    assert "\n" not in str(error.value)
    assert "two molecules" not in str(error.value)


def test_elements_in_another_order_are_the_same_molecule_reordered(make_frames):
    accurate = make_frames(n_frames=10, level="ccsd", source="ccsd.npz")
    cheap = make_frames(level="xtb", source="xtb.npz",
                        atomic_numbers=accurate.atomic_numbers[CARBON_AND_OXYGEN_SWAPPED],
                        positions=accurate.positions[:, CARBON_AND_OXYGEN_SWAPPED])
    with pytest.raises(DataError, match="the same molecule as level 'ccsd'.*0->2, 2->0"):
        combine_levels([accurate, cheap], source="pair")


def test_same_order_and_unrelated_geometries_pass(make_frames):
    accurate = make_frames(n_frames=10, level="ccsd")
    assert atom_permutation(accurate, make_frames(level="xtb", positions=accurate.positions)) \
        is None
    assert atom_permutation(accurate, make_frames(n_frames=10, level="xtb", seed=7)) is None
    check_atom_order(accurate, make_frames(n_frames=10, level="xtb", seed=7))


def test_frames_in_two_different_orders_are_refused(make_frames):
    accurate = make_frames(n_frames=10, level="ccsd")
    mixed = accurate.positions[:4].copy()
    mixed[:2] = mixed[:2][:, CARBONS_SWAPPED]
    mixed[2:] = mixed[2:][:, [0, 1, 2, 4, 3, 5, 6, 7, 8]]
    with pytest.raises(DataError, match="2 different atom orders"):
        check_atom_order(accurate, make_frames(level="xtb", positions=mixed))


def test_a_reordered_cheap_level_never_reaches_the_training_pool(make_frames):
    accurate = make_frames(n_frames=30, level="ccsd")
    cheap = make_frames(level="xtb", seed=1, positions=accurate.positions[:, CARBONS_SWAPPED])
    with pytest.raises(DataError, match="atom order"):
        split_multi_fidelity(accurate, cheap, n_accurate_train=5, n_inaccurate_train=10,
                             n_validation=5, n_test=10)


def test_other_order_without_shared_geometry_is_not_called_two_molecules(make_frames):
    accurate = make_frames(n_frames=10, level="ccsd", source="ccsd.npz")
    cheap = make_frames(n_frames=10, level="xtb", source="xtb.npz", seed=5,
                        atomic_numbers=accurate.atomic_numbers[CARBON_AND_OXYGEN_SWAPPED])
    with pytest.raises(DataError, match="the same atoms listed in another order"):
        combine_levels([accurate, cheap], source="pair")


def test_data_compare_refuses_a_reordered_cheap_file(make_frames):
    from harness.data.discrepancy import level_discrepancy

    accurate = make_frames(n_frames=10, level="ccsd")
    cheap = make_frames(level="xtb", seed=1, positions=accurate.positions[:, CARBONS_SWAPPED])
    with pytest.raises(DataError, match="atom order"):
        level_discrepancy(accurate, cheap)
