"""Writing frames in each format and reading them back gives the same arrays in internal units."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.readers import (
    combine_levels,
    level_name,
    load_any,
    molecule_name,
    read_ase,
    read_md17_npz,
    read_rmd17_npz,
)
from harness.data.writers import write_extxyz, write_md17_npz, write_rmd17_npz
from harness.errors import DataError


def assert_same_frames(read, written, rtol: float = 0.0, atol: float = 0.0) -> None:
    np.testing.assert_array_equal(read.atomic_numbers, written.atomic_numbers)
    np.testing.assert_allclose(read.positions, written.positions, rtol=rtol, atol=atol)
    np.testing.assert_allclose(read.energies, written.energies, rtol=rtol, atol=atol)
    np.testing.assert_allclose(read.forces, written.forces, rtol=rtol, atol=atol)


def test_md17_npz_round_trip_is_exact(tmp_path, make_frames):
    frames = make_frames(level="ccsd(t)-cc-pvdz")
    path = write_md17_npz(frames, tmp_path / "ethanol_ccsd_t-train.npz")
    read = read_md17_npz(path)
    assert_same_frames(read, frames)
    assert (read.molecule, read.level, read.source) == ("ethanol", "ccsd(t)-cc-pvdz", str(path))
    assert np.all(read.frame_ids == -1)


def test_md17_npz_keeps_sgdml_layout(tmp_path, make_frames):
    path = write_md17_npz(make_frames(n_frames=7), tmp_path / "x.npz")
    with np.load(path) as content:
        assert content["E"].shape == (7, 1)
        assert content["R"].shape == content["F"].shape == (7, 9, 3)


def test_rmd17_npz_round_trip_is_exact_and_keeps_frame_ids(tmp_path, make_frames):
    frames = make_frames(frame_ids=np.arange(100, 120))
    path = write_rmd17_npz(frames, tmp_path / "rmd17_ethanol_train_01.npz")
    read = read_rmd17_npz(path)
    assert_same_frames(read, frames)
    np.testing.assert_array_equal(read.frame_ids, frames.frame_ids)
    assert (read.molecule, read.level) == ("ethanol", "rmd17-pbe-def2svp")


def test_rmd17_old_labels_are_the_original_md17_dft(tmp_path, make_frames):
    new, old = make_frames(seed=1), make_frames(seed=2)
    path = tmp_path / "rmd17_ethanol.npz"
    np.savez(path, nuclear_charges=new.atomic_numbers, coords=new.positions,
             energies=new.energies, forces=new.forces, old_energies=old.energies,
             old_forces=old.forces, old_indices=np.arange(len(new)))
    read = read_rmd17_npz(path, labels="old")
    np.testing.assert_array_equal(read.energies, old.energies)
    np.testing.assert_array_equal(read.forces, old.forces)
    assert read.level == "md17-pbe-vdwts"


def test_extxyz_round_trip_converts_through_ev(tmp_path, make_frames):
    frames = make_frames(level="xtb", frame_ids=np.arange(5, 25))
    path = write_extxyz(frames, tmp_path / "frames.extxyz")
    read = read_ase(path)
    assert_same_frames(read, frames, rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(read.frame_ids, frames.frame_ids)
    assert (read.molecule, read.level) == ("ethanol", "xtb")


def test_extxyz_stores_ev(tmp_path, make_frames):
    import ase.io

    frames = make_frames(n_frames=1)
    atoms = ase.io.read(write_extxyz(frames, tmp_path / "one.xyz"))
    assert atoms.get_potential_energy() == pytest.approx(frames.energies[0] * 0.0433641, rel=1e-5)


@pytest.mark.parametrize("suffix", [".db", ".traj"])
def test_ase_database_and_trajectory_are_read_through_the_calculator(tmp_path, make_frames,
                                                                     suffix):
    import ase.io

    frames = make_frames(n_frames=5)
    images = ase.io.read(write_extxyz(frames, tmp_path / "frames.xyz"), index=":")
    path = tmp_path / f"frames{suffix}"
    ase.io.write(path, images)
    read = read_ase(path, level="dft", molecule="ethanol")
    assert_same_frames(read, frames, rtol=1e-9, atol=1e-6)
    assert read.level == "dft"


def test_unlabeled_frames_round_trip_through_extxyz(tmp_path, make_frames):
    frames = make_frames(labelled=False)
    read = read_ase(write_extxyz(frames, tmp_path / "samples.xyz"))
    assert not read.is_labelled
    np.testing.assert_allclose(read.positions, frames.positions, atol=1e-6)


def test_load_any_tells_formats_apart(tmp_path, make_frames):
    frames = make_frames(level="dft")
    md17 = load_any(write_md17_npz(frames, tmp_path / "md17_ethanol.npz"))
    rmd17 = load_any(write_rmd17_npz(frames, tmp_path / "rmd17_ethanol.npz"))
    extxyz = load_any(write_extxyz(frames, tmp_path / "ethanol.extxyz"))
    assert list(md17.levels) == ["dft"]
    assert list(rmd17.levels) == ["rmd17-pbe-def2svp"]
    assert list(extxyz.levels) == ["dft"]
    for dataset in (md17, rmd17, extxyz):
        assert dataset.molecule == "ethanol"
        assert_same_frames(next(iter(dataset.levels.values())), frames, atol=1e-6)


def test_combine_levels_makes_one_multi_fidelity_dataset(tmp_path, make_frames):
    accurate = make_frames(level="ccsd")
    inaccurate = make_frames(level="dft", seed=3, positions=accurate.positions)
    dataset = combine_levels([accurate, inaccurate], source="pair")
    assert sorted(dataset.levels) == ["ccsd", "dft"]
    assert dataset["ccsd"] is accurate


def test_combine_levels_refuses_two_molecules_and_repeated_levels(make_frames):
    ethanol = make_frames(level="ccsd", source="a.npz")
    methane = make_frames(level="dft", atomic_numbers=np.array([6, 1, 1, 1, 1]),
                          molecule="ethanol", source="b.npz")
    with pytest.raises(DataError, match=r"b\.npz: field 'atomic_numbers'.*two molecules"):
        combine_levels([ethanol, methane], source="pair")
    with pytest.raises(DataError, match=r"c\.npz: field 'level'"):
        combine_levels([ethanol, make_frames(level="ccsd", source="c.npz")], source="pair")
    with pytest.raises(DataError, match=r"d\.npz: field 'molecule'"):
        combine_levels([ethanol, make_frames(level="dft", molecule="x", source="d.npz")], "p")


@pytest.mark.parametrize(("raw", "name"), [
    ("malonaldehyde_ccsd", "malonaldehyde"), ("rmd17_malonaldehyde_train_01", "malonaldehyde"),
    ("md17_aspirin", "aspirin"), ("ethanol_ccsd_t-train", "ethanol"), ("Toluene_dft", "toluene"),
])
def test_molecule_names_are_normalised(raw, name):
    assert molecule_name(raw) == name


def test_sgdml_theory_becomes_a_level_slug():
    assert level_name("Psi4: CCSD(T), cc-pVDZ") == "ccsd(t)-cc-pvdz"
    assert level_name("rmd17-pbe-def2svp") == "rmd17-pbe-def2svp"
