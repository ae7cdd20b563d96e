"""Every bad input raises one DataError whose message names the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from harness.data.readers import load_any, read_ase, read_md17_npz, read_rmd17_npz
from harness.data.writers import write_extxyz, write_md17_npz
from harness.errors import DataError


def assert_names_file_and_field(error: pytest.ExceptionInfo, path: Path, field: str) -> None:
    message = str(error.value)
    assert str(path) in message
    assert f"'{field}'" in message
    assert error.value.field == field


def md17_arrays(make_frames) -> dict[str, np.ndarray]:
    frames = make_frames(n_frames=6)
    return {"R": frames.positions, "z": frames.atomic_numbers, "E": frames.energies[:, None],
            "F": frames.forces}


def rmd17_arrays(make_frames) -> dict[str, np.ndarray]:
    frames = make_frames(n_frames=6)
    return {"nuclear_charges": frames.atomic_numbers, "coords": frames.positions,
            "energies": frames.energies, "forces": frames.forces,
            "old_energies": frames.energies, "old_forces": frames.forces}


@pytest.mark.parametrize("key", ["R", "z", "E", "F"])
def test_md17_missing_key(tmp_path, make_frames, key):
    arrays = md17_arrays(make_frames)
    del arrays[key]
    path = tmp_path / "md17.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        read_md17_npz(path)
    assert_names_file_and_field(error, path, key)


@pytest.mark.parametrize(("key", "labels"), [
    ("nuclear_charges", "new"), ("coords", "new"), ("energies", "new"), ("forces", "new"),
    ("old_energies", "old"), ("old_forces", "old"),
])
def test_rmd17_missing_key(tmp_path, make_frames, key, labels):
    arrays = rmd17_arrays(make_frames)
    del arrays[key]
    path = tmp_path / "rmd17.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        read_rmd17_npz(path, labels=labels)
    assert_names_file_and_field(error, path, key)


@pytest.mark.parametrize(("key", "bad_shape"), [
    ("R", (6, 8, 3)), ("R", (6, 27)), ("F", (6, 9, 2)), ("F", (5, 9, 3)), ("E", (5,)),
    ("E", (6, 2)), ("z", (9, 1)),
])
def test_md17_shape_mismatch(tmp_path, make_frames, key, bad_shape):
    arrays = md17_arrays(make_frames)
    arrays[key] = np.ones(bad_shape)
    path = tmp_path / "md17.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        read_md17_npz(path)
    assert_names_file_and_field(error, path, key)


@pytest.mark.parametrize("key", ["R", "E", "F"])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_md17_non_finite_values(tmp_path, make_frames, key, bad_value):
    arrays = md17_arrays(make_frames)
    arrays[key] = arrays[key].copy()
    arrays[key][3] = bad_value
    path = tmp_path / "md17.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="NaN or inf.*frame 3") as error:
        read_md17_npz(path)
    assert_names_file_and_field(error, path, key)


def test_rmd17_non_finite_forces_name_the_rmd17_key(tmp_path, make_frames):
    arrays = rmd17_arrays(make_frames)
    arrays["forces"] = arrays["forces"].copy()
    arrays["forces"][0, 0, 0] = np.nan
    path = tmp_path / "rmd17.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        read_rmd17_npz(path)
    assert_names_file_and_field(error, path, "forces")


def test_non_numeric_array(tmp_path, make_frames):
    arrays = md17_arrays(make_frames)
    arrays["E"] = np.array(["a"] * 6)
    path = tmp_path / "md17.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        read_md17_npz(path)
    assert_names_file_and_field(error, path, "E")


def test_non_integer_atomic_numbers(tmp_path, make_frames):
    arrays = md17_arrays(make_frames)
    arrays["z"] = arrays["z"] + 0.5
    path = tmp_path / "md17.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        read_md17_npz(path)
    assert_names_file_and_field(error, path, "z")


@pytest.mark.parametrize("energy_unit", ["Ry", "calories"])
def test_unknown_energy_unit(tmp_path, make_frames, energy_unit):
    path = write_extxyz(make_frames(n_frames=2), tmp_path / "frames.xyz")
    with pytest.raises(DataError, match=re.escape(energy_unit)) as error:
        read_ase(path, level="x", energy_unit=energy_unit)
    assert_names_file_and_field(error, path, "energy_unit")


def test_unknown_length_unit(tmp_path, make_frames):
    path = write_extxyz(make_frames(n_frames=2), tmp_path / "frames.xyz")
    with pytest.raises(DataError) as error:
        read_ase(path, level="x", length_unit="furlong")
    assert_names_file_and_field(error, path, "length_unit")


def test_two_molecules_mixed_in_one_file(tmp_path, make_frames):
    import ase.io

    ethanol = ase.io.read(write_extxyz(make_frames(n_frames=2), tmp_path / "a.xyz"), index=":")
    methane = ase.io.read(write_extxyz(
        make_frames(n_frames=1, atomic_numbers=np.array([6, 1, 1, 1, 1])), tmp_path / "b.xyz"))
    path = tmp_path / "mixed.xyz"
    ase.io.write(path, [*ethanol, methane])
    with pytest.raises(DataError, match="two molecules mixed") as error:
        read_ase(path, level="x")
    assert_names_file_and_field(error, path, "atomic_numbers")


def test_same_atoms_in_another_order_count_as_another_molecule(tmp_path, make_frames):
    import ase.io

    images = ase.io.read(write_extxyz(make_frames(n_frames=2), tmp_path / "a.xyz"), index=":")
    images[1] = images[1][[1, 0, 2, 3, 4, 5, 6, 7, 8]][::-1]
    path = tmp_path / "reordered.xyz"
    ase.io.write(path, images)
    with pytest.raises(DataError) as error:
        read_ase(path, level="x")
    assert_names_file_and_field(error, path, "atomic_numbers")


def test_some_frames_without_labels(tmp_path, make_frames):
    import ase.io

    images = ase.io.read(write_extxyz(make_frames(n_frames=3), tmp_path / "a.xyz"), index=":")
    images[1].calc = None
    path = tmp_path / "partial.xyz"
    ase.io.write(path, images)
    with pytest.raises(DataError, match="frame 1 has no energy") as error:
        read_ase(path, level="x")
    assert_names_file_and_field(error, path, "energy")


@pytest.mark.parametrize("name", ["garbage.npz", "garbage.xyz", "garbage.db"])
def test_unreadable_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01 this is not a data file \xff" * 10)
    with pytest.raises(DataError) as error:
        load_any(path)
    assert_names_file_and_field(error, path, "file")


@pytest.mark.parametrize("reader", [load_any, read_md17_npz, read_rmd17_npz,
                                    lambda path: read_ase(path, level="x")])
def test_missing_file(tmp_path, reader):
    path = tmp_path / "absent.npz"
    with pytest.raises(DataError) as error:
        reader(path)
    assert_names_file_and_field(error, path, "path")


def test_unknown_file_type(tmp_path):
    path = tmp_path / "frames.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(DataError, match=r"\.csv") as error:
        load_any(path)
    assert_names_file_and_field(error, path, "path")


def test_npz_of_neither_format(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, positions=np.zeros((2, 3, 3)))
    with pytest.raises(DataError, match="positions") as error:
        load_any(path)
    assert_names_file_and_field(error, path, "keys")


def test_unknown_rmd17_label_set(tmp_path, make_frames):
    path = write_md17_npz(make_frames(n_frames=2), tmp_path / "x.npz")
    with pytest.raises(DataError) as error:
        read_rmd17_npz(path, labels="newest")
    assert_names_file_and_field(error, path, "labels")


def test_unlabeled_frames_cannot_be_written_as_md17(tmp_path, make_frames):
    with pytest.raises(DataError, match="unlabeled"):
        write_md17_npz(make_frames(labelled=False), tmp_path / "x.npz")
