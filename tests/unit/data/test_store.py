"""A harness dataset folder, written here file by file, loads into a multi-fidelity dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.data.readers import load_any
from harness.data.splits import split_multi_fidelity
from harness.data.store import load_dataset, summarise
from harness.errors import DataError


@pytest.fixture
def folder(tmp_path, make_frames):
    """12 sampled frames; 'cheap' labels all of them in two chunks, 'accurate' labels four."""
    trajectory = make_frames(n_frames=12, labelled=False)
    cheap, accurate = make_frames(n_frames=12, seed=1), make_frames(n_frames=12, seed=2)
    (tmp_path / "dataset.json").write_text(json.dumps({
        "molecule": "ethanol",
        "levels": {"cheap": "a cheap level", "accurate": "an accurate level", "never": "unrun"},
        "sampling": {"temperature_K": 500.0, "cpu_seconds_per_frame": 0.001},
    }))
    np.savez(tmp_path / "trajectory.npz", atomic_numbers=trajectory.atomic_numbers,
             positions=trajectory.positions)
    chunks = {"cheap": [np.arange(6, 12), np.arange(0, 6)], "accurate": [np.array([9, 1, 4, 7])]}
    for level, parts in chunks.items():
        labels = cheap if level == "cheap" else accurate
        (tmp_path / "labels" / level).mkdir(parents=True)
        for number, index in enumerate(parts):
            np.savez(tmp_path / "labels" / level / f"chunk_{number:04d}.npz",
                     frame_index=index, energies=labels.energies[index],
                     forces=labels.forces[index].astype(np.float32),
                     cpu_seconds=np.full(len(index), 0.01 if level == "cheap" else 7.0))
    return tmp_path, trajectory, cheap, accurate


def test_levels_are_the_union_of_their_chunks_in_frame_order(folder):
    path, trajectory, cheap, accurate = folder
    dataset = load_dataset(path)
    assert sorted(dataset.levels) == ["accurate", "cheap", "unlabeled"]
    np.testing.assert_array_equal(dataset["cheap"].frame_ids, np.arange(12))
    np.testing.assert_array_equal(dataset["cheap"].energies, cheap.energies)
    np.testing.assert_array_equal(dataset["accurate"].frame_ids, [1, 4, 7, 9])
    np.testing.assert_array_equal(dataset["accurate"].positions, trajectory.positions[[1, 4, 7, 9]])
    np.testing.assert_allclose(dataset["accurate"].forces, accurate.forces[[1, 4, 7, 9]],
                               rtol=1e-6)
    assert dataset["accurate"].seconds_per_label == pytest.approx(7.0)
    assert dataset["unlabeled"].temperature_K == 500.0
    assert not dataset["unlabeled"].is_labelled


def test_load_any_opens_a_dataset_folder(folder):
    path = folder[0]
    summary = summarise(load_any(path))
    assert summary["frames_per_level"] == {"unlabeled": 12, "cheap": 12, "accurate": 4}
    assert summary["temperature_K"] == 500.0


def test_stored_levels_split_with_the_accurate_frames_held_out(folder):
    dataset = load_dataset(folder[0])
    result = split_multi_fidelity(dataset["accurate"], dataset["cheap"], n_accurate_train=1,
                                  n_inaccurate_train=9, n_validation=1, n_test=2)
    held_out = set(result.test.frame_ids) | set(result.validation.frame_ids)
    assert held_out.isdisjoint(result.inaccurate_train.frame_ids)
    assert len(held_out) == 3


def test_folder_without_description_is_refused(tmp_path):
    with pytest.raises(DataError, match="dataset.json"):
        load_dataset(tmp_path)
