"""A cheap level of uneven quality, mixed from the embedded data's levels frame by frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.mix import mix_levels
from harness.data.store import load_dataset, read_level_labels
from harness.errors import DataError

ETHANOL = Path(__file__).resolve().parents[3] / "data" / "ethanol"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mix") / "ethanol-mixed"
    return mix_levels(ETHANOL, out, {"mmff94": 0.5, "gaff2": 0.5}, seed=3)


def test_each_frame_carries_one_levels_forces_and_cost_and_the_first_levels_energy_zero(
        mixed: Path) -> None:
    labels = read_level_labels(mixed, "mmff94+gaff2")
    sources = {level: read_level_labels(ETHANOL, level) for level in ("mmff94", "gaff2")}
    drawn = np.load(next((mixed / "labels" / "mmff94+gaff2").glob("chunk_*.npz")))[
        "source_level"]
    assert np.array_equal(labels["frame_index"], sources["mmff94"]["frame_index"])
    assert abs(drawn.mean() - 0.5) < 0.03  # 10,000 frames drawn half and half
    offsets = []
    for index, level in enumerate(("mmff94", "gaff2")):
        chosen = drawn == index
        assert np.array_equal(labels["forces"][chosen], sources[level]["forces"][chosen])
        assert np.array_equal(labels["cpu_seconds"][chosen],
                              sources[level]["cpu_seconds"][chosen])
        shift = labels["energies"][chosen] - sources[level]["energies"][chosen]
        assert np.allclose(shift, shift[0])
        offsets.append(shift[0])
    assert offsets[0] == pytest.approx(0.0, abs=1e-9)


def test_the_copy_keeps_the_accurate_labels_for_the_true_bias(mixed: Path) -> None:
    dataset = load_dataset(mixed)
    assert {"ccsd", "mmff94+gaff2"} <= set(dataset.levels)
    assert np.array_equal(dataset["ccsd"].forces, load_dataset(ETHANOL)["ccsd"].forces)


def test_the_same_seed_draws_the_same_mixture(mixed: Path, tmp_path: Path) -> None:
    again = mix_levels(ETHANOL, tmp_path / "again", {"mmff94": 0.5, "gaff2": 0.5}, seed=3)
    assert np.array_equal(read_level_labels(again, "mmff94+gaff2")["forces"],
                          read_level_labels(mixed, "mmff94+gaff2")["forces"])


@pytest.mark.parametrize(("shares", "name", "problem"), [
    ({"xtb": 1.0}, None, "two or more levels"),
    ({"xtb": 1.0, "pbe": 1.0}, None, "no level"),
    ({"xtb": 1.0, "gaff2": 0.0}, None, "positive"),
    ({"xtb": 1.0, "gaff2": 1.0}, "ccsd", "already has a level 'ccsd'"),
])
def test_a_mixture_that_cannot_be_made_is_a_data_error(tmp_path: Path, shares: dict,
                                                       name: str | None, problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        mix_levels(ETHANOL, tmp_path / "out", shares, name)
    assert not (tmp_path / "out").exists()


def test_an_existing_output_folder_is_never_overwritten(mixed: Path) -> None:
    with pytest.raises(DataError, match="exists"):
        mix_levels(ETHANOL, mixed, {"mmff94": 1.0, "gaff2": 1.0})
