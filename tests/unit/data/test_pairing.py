"""Frames of two levels are paired by geometry, one to one, within a tolerance in Angstrom."""

from __future__ import annotations

import numpy as np

from harness.data.pairing import matches_any, pair_frames


def test_pairs_shuffled_frames_by_geometry(make_frames):
    a = make_frames(n_frames=30, level="ccsd")
    order = np.random.default_rng(1).permutation(30)[:20]
    b = make_frames(level="dft", positions=a.positions[order] + 1e-6, seed=5)
    ia, ib = pair_frames(a, b)
    np.testing.assert_array_equal(a.positions[ia], b.positions[ib] - 1e-6)
    assert len(ia) == 20
    assert np.all(np.diff(ia) > 0)
    np.testing.assert_array_equal(ia, np.sort(order))


def test_frames_beyond_the_tolerance_do_not_pair(make_frames):
    a = make_frames(n_frames=5)
    b = make_frames(positions=a.positions + 2e-3)
    assert len(pair_frames(a, b)[0]) == 0
    assert len(pair_frames(a, b, tolerance=3e-3)[0]) == 5


def test_one_displaced_atom_breaks_a_match(make_frames):
    a = make_frames(n_frames=3)
    moved = a.positions.copy()
    moved[1, 4, 2] += 0.01
    ia, ib = pair_frames(a, make_frames(positions=moved))
    np.testing.assert_array_equal(ia, [0, 2])
    np.testing.assert_array_equal(ib, [0, 2])


def test_each_frame_is_used_at_most_once(make_frames):
    a = make_frames(n_frames=4)
    duplicated_a = make_frames(positions=a.positions[[0, 0, 1, 2]])
    ia, ib = pair_frames(duplicated_a, make_frames(positions=a.positions[[0, 1]]))
    np.testing.assert_array_equal(ia, [0, 2])
    np.testing.assert_array_equal(ib, [0, 1])
    ia, ib = pair_frames(a, make_frames(positions=a.positions[[1, 1, 0]]))
    np.testing.assert_array_equal(ia, [0, 1])
    np.testing.assert_array_equal(ib, [2, 0])


def test_different_molecules_never_match(make_frames):
    a = make_frames(n_frames=3)
    b = make_frames(positions=a.positions, atomic_numbers=np.array([6, 6, 8, 1, 1, 1, 1, 1, 9]))
    assert len(pair_frames(a, b)[0]) == 0
    assert not matches_any(a, b).any()


def test_matches_any_marks_every_duplicate(make_frames):
    a = make_frames(n_frames=4)
    pool = make_frames(positions=a.positions[[0, 1, 0, 3, 0]] + 1e-7)
    np.testing.assert_array_equal(matches_any(pool, a.subset([0, 3])),
                                  [True, False, True, True, True])
