"""Split rules: a fixed accurate test set, nested training sets, no test geometry in training."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.pairing import matches_any
from harness.data.splits import split_multi_fidelity
from harness.errors import DataError


@pytest.fixture
def levels(make_frames):
    """Accurate frames that are a subset of the inaccurate frames, as in the embedded data."""
    inaccurate = make_frames(n_frames=400, level="xtb", source="xtb", seed=1)
    chosen = np.random.default_rng(2).choice(400, size=120, replace=False)
    accurate = make_frames(level="ccsd", source="ccsd", positions=inaccurate.positions[chosen],
                           frame_ids=chosen, seed=3)
    return accurate, inaccurate


def split(levels, **sizes):
    accurate, inaccurate = levels
    settings = {"n_accurate_train": 20, "n_inaccurate_train": 100, "n_validation": 10,
                "n_test": 50} | sizes
    return split_multi_fidelity(accurate, inaccurate, **settings)


def geometry_overlaps(frames, others) -> int:
    return int(matches_any(frames, others).sum())


def test_test_and_validation_are_out_of_every_training_pool(levels):
    result = split(levels, n_inaccurate_train=270)
    for held_out in (result.test, result.validation):
        assert geometry_overlaps(result.accurate_train, held_out) == 0
        assert geometry_overlaps(result.inaccurate_train, held_out) == 0
    assert geometry_overlaps(result.test, result.validation) == 0
    assert (len(result.test), len(result.validation), len(result.accurate_train),
            len(result.inaccurate_train)) == (50, 10, 20, 270)


def test_inaccurate_pool_is_all_frames_but_the_held_out_configurations(levels):
    result = split(levels, n_inaccurate_train=340)
    assert len(np.unique(result.inaccurate_train.frame_ids)) == 340
    with pytest.raises(DataError, match="341 requested but only 340"):
        split(levels, n_inaccurate_train=341)


def test_capped_request_takes_the_whole_inaccurate_pool(levels):
    capped = split(levels, n_inaccurate_train=5000, cap_inaccurate=True)
    assert len(capped.inaccurate_train) == 340
    assert len(split(levels, n_inaccurate_train=30, cap_inaccurate=True).inaccurate_train) == 30


def test_test_set_depends_only_on_the_split_seed(levels):
    reference = split(levels)
    for sizes in ({"train_seed": 7}, {"n_accurate_train": 60}, {"n_inaccurate_train": 10},
                  {"n_validation": 30}, {"n_accurate_train": 0, "train_seed": 3}):
        np.testing.assert_array_equal(split(levels, **sizes).test.frame_ids,
                                      reference.test.frame_ids)
    assert not np.array_equal(split(levels, split_seed=1).test.frame_ids,
                              reference.test.frame_ids)


def test_validation_does_not_depend_on_training_choices(levels):
    reference = split(levels)
    other = split(levels, train_seed=5, n_accurate_train=40, n_inaccurate_train=7)
    np.testing.assert_array_equal(other.validation.frame_ids, reference.validation.frame_ids)


def test_training_sets_of_one_seed_are_nested(levels):
    small = split(levels, n_accurate_train=10, n_inaccurate_train=50, train_seed=4)
    large = split(levels, n_accurate_train=40, n_inaccurate_train=200, train_seed=4)
    np.testing.assert_array_equal(small.accurate_train.frame_ids,
                                  large.accurate_train.frame_ids[:10])
    np.testing.assert_array_equal(small.inaccurate_train.frame_ids,
                                  large.inaccurate_train.frame_ids[:50])


def test_training_seeds_draw_different_frames(levels):
    first, second = split(levels, train_seed=0), split(levels, train_seed=1)
    assert set(first.accurate_train.frame_ids) != set(second.accurate_train.frame_ids)
    assert set(first.inaccurate_train.frame_ids) != set(second.inaccurate_train.frame_ids)


def test_split_is_deterministic(levels):
    first, second = split(levels, train_seed=9), split(levels, train_seed=9)
    for name in ("accurate_train", "validation", "test", "inaccurate_train"):
        np.testing.assert_array_equal(getattr(first, name).frame_ids,
                                      getattr(second, name).frame_ids)
        np.testing.assert_array_equal(getattr(first, name).positions,
                                      getattr(second, name).positions)


def test_labels_travel_with_their_frames(levels):
    accurate, _ = levels
    result = split(levels)
    index = {int(frame_id): i for i, frame_id in enumerate(accurate.frame_ids)}
    rows = [index[int(frame_id)] for frame_id in result.test.frame_ids]
    np.testing.assert_array_equal(result.test.energies, accurate.energies[rows])
    np.testing.assert_array_equal(result.test.forces, accurate.forces[rows])


def test_unlabeled_inaccurate_pool_is_split_like_a_labelled_one(levels):
    accurate, inaccurate = levels
    result = split_multi_fidelity(accurate, inaccurate.without_labels(), n_accurate_train=20,
                                  n_inaccurate_train=100, n_validation=10, n_test=50)
    assert not result.inaccurate_train.is_labelled
    assert geometry_overlaps(result.inaccurate_train, result.test) == 0


def test_duplicate_accurate_geometries_of_test_frames_stay_out_of_training(make_frames):
    base = make_frames(n_frames=30)
    accurate = make_frames(positions=np.concatenate([base.positions, base.positions]))
    result = split_multi_fidelity(accurate, None, n_accurate_train=0, n_validation=5, n_test=10)
    assert result.inaccurate_train is None
    full = split_multi_fidelity(accurate, None, n_accurate_train=30, n_validation=5, n_test=10)
    assert geometry_overlaps(full.accurate_train, full.test) == 0
    assert len(full.accurate_train) == 30


@pytest.mark.parametrize(("sizes", "field", "numbers"), [
    ({"n_test": 121}, "n_test", "121 requested but only 120"),
    ({"n_validation": 71}, "n_validation", "71 requested but only 70"),
    ({"n_accurate_train": 61}, "n_accurate_train", "61 requested but only 60"),
    ({"n_inaccurate_train": 400}, "n_inaccurate_train", "400 requested but only 340"),
    ({"n_test": -1}, "n_test", "must be >= 0"),
])
def test_too_few_frames_names_source_field_and_numbers(levels, sizes, field, numbers):
    with pytest.raises(DataError, match=rf"field '{field}'.*{numbers}") as error:
        split(levels, **sizes)
    assert error.value.source in ("ccsd", "xtb")


def test_inaccurate_frames_without_an_inaccurate_level_are_an_error(levels):
    accurate, _ = levels
    with pytest.raises(DataError, match="n_inaccurate_train"):
        split_multi_fidelity(accurate, None, n_accurate_train=5, n_inaccurate_train=5,
                             n_validation=5, n_test=5)


def test_levels_of_two_molecules_are_refused(levels, make_frames):
    accurate, _ = levels
    other = make_frames(atomic_numbers=np.array([6, 1, 1, 1, 1]), source="methane")
    with pytest.raises(DataError, match=r"methane: field 'atomic_numbers'"):
        split_multi_fidelity(accurate, other, n_accurate_train=5, n_inaccurate_train=5,
                             n_validation=5, n_test=5)
