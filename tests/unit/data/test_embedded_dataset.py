"""The committed ethanol dataset is what its card says: frames, levels, costs, temperature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.pairing import pair_frames
from harness.data.store import load_dataset

EMBEDDED = Path(__file__).resolve().parents[3] / "data" / "ethanol"
CHEAP_LEVELS = ("xtb", "gaff2", "mmff94")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(EMBEDDED)


def test_every_cheap_level_labels_all_sampled_frames(dataset):
    assert len(dataset["unlabeled"]) >= 10_000
    assert dataset["unlabeled"].temperature_K == 500.0
    for level in CHEAP_LEVELS:
        frames = dataset[level]
        assert len(frames) == len(dataset["unlabeled"])
        assert frames.seconds_per_label > 0
        np.testing.assert_array_equal(frames.positions, dataset["unlabeled"].positions)


def test_atom_order_is_md17_ethanol(dataset):
    assert dataset["xtb"].atomic_numbers.tolist() == [6, 6, 8, 1, 1, 1, 1, 1, 1]


def test_accurate_labels_sit_on_trajectory_frames_and_cost_most(dataset):
    if "ccsd" not in dataset.levels:
        pytest.skip("no CCSD chunk has been written yet")
    ccsd = dataset["ccsd"]
    np.testing.assert_array_equal(ccsd.positions, dataset["unlabeled"].positions[ccsd.frame_ids])
    assert ccsd.seconds_per_label > 100 * dataset["xtb"].seconds_per_label
    ia, ib = pair_frames(ccsd, dataset["xtb"])
    assert len(ia) == len(ccsd)
    np.testing.assert_array_equal(ccsd.frame_ids[ia], dataset["xtb"].frame_ids[ib])


@pytest.mark.parametrize("level", CHEAP_LEVELS)
def test_cheap_forces_resemble_accurate_forces_but_are_biased(dataset, level):
    """A sanity check of physics and units: cheap levels are correlated with CCSD, not equal."""
    if "ccsd" not in dataset.levels:
        pytest.skip("no CCSD chunk has been written yet")
    ccsd = dataset["ccsd"]
    cheap = dataset[level].forces[ccsd.frame_ids]
    correlation = np.corrcoef(cheap.reshape(-1), ccsd.forces.reshape(-1))[0, 1]
    error = np.abs(cheap - ccsd.forces).mean()
    assert correlation > 0.8
    assert 0.5 < error < np.abs(ccsd.forces).mean()
