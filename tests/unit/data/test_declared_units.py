"""Units a file declares are read and converted (ASE's constants), never silently ignored."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import units as ase_units

from harness.cli import main
from harness.data.readers import load_any, read_md17_npz
from harness.data.store import load_dataset, summarise
from harness.data.units import DeclaredUnits
from harness.data.writers import write_md17_npz
from harness.errors import DataError

KCAL_PER_MOL_IN_EV = ase_units.kcal / ase_units.mol
HARTREE_IN_KCAL_PER_MOL = ase_units.Hartree / KCAL_PER_MOL_IN_EV


@pytest.mark.parametrize("units", [DeclaredUnits("hartree", "bohr"),
                                   DeclaredUnits("eV", "Angstrom"),
                                   DeclaredUnits("kcal/mol", "Angstrom"),
                                   DeclaredUnits("Ha", "bohr", "Ha/bohr")])
def test_npz_round_trip_in_declared_units(tmp_path, make_frames, units):
    frames = make_frames(n_frames=5)
    path = write_md17_npz(frames, tmp_path / "frames.npz", units)
    back = read_md17_npz(path)
    np.testing.assert_allclose(back.positions, frames.positions, rtol=1e-12)
    np.testing.assert_allclose(back.energies, frames.energies, rtol=1e-12)
    np.testing.assert_allclose(back.forces, frames.forces, rtol=1e-12)
    assert back.metadata["declared_units"] == units.as_dict()


def test_hartree_bohr_file_holds_hartree_and_bohr(tmp_path, make_frames):
    frames = make_frames(n_frames=2)
    path = write_md17_npz(frames, tmp_path / "frames.npz", DeclaredUnits("hartree", "bohr"))
    with np.load(path) as content:
        np.testing.assert_allclose(content["R"], frames.positions / ase_units.Bohr)
        np.testing.assert_allclose(content["E"][:, 0], frames.energies / HARTREE_IN_KCAL_PER_MOL)
        assert str(content["e_unit"]) == "hartree"


def test_sgdml_unit_keys_in_kcal_and_angstrom_change_nothing(tmp_path, make_frames):
    frames = make_frames(n_frames=3)
    path = tmp_path / "sgdml.npz"
    np.savez(path, R=frames.positions, z=frames.atomic_numbers, E=frames.energies,
             F=frames.forces, r_unit=np.array("Ang"), e_unit=np.array("kcal/mol"))
    np.testing.assert_array_equal(read_md17_npz(path).forces, frames.forces)


@pytest.mark.parametrize(("extra", "field"), [
    ({"e_unit": "furlongs"}, "e_unit"),
    ({"r_unit": "parsec"}, "r_unit"),
    ({"force_unit": "newton"}, "force_unit"),
    ({"units": "hartree"}, "units"),
    ({"e_unit": "eV", "energy_unit": "hartree"}, "e_unit, energy_unit"),
])
def test_unknown_or_conflicting_units_are_one_line_errors(tmp_path, make_frames, extra, field):
    frames = make_frames(n_frames=2)
    path = tmp_path / "bad_units.npz"
    np.savez(path, R=frames.positions, z=frames.atomic_numbers, E=frames.energies,
             F=frames.forces, **{key: np.array(value) for key, value in extra.items()})
    with pytest.raises(DataError) as error:
        load_any(path)
    assert error.value.field == field
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def write_folder(folder, trajectory, labels, units: dict | None) -> None:
    """A one-level dataset folder whose arrays are written in ``units`` (None: undeclared)."""
    description = {"molecule": "ethanol", "levels": {"dft": "a level"},
                   "sampling": {"temperature_K": 500.0, "cpu_seconds_per_frame": 0.001}}
    if units is not None:
        description["units"] = units
    (folder / "dataset.json").write_text(json.dumps(description))
    energy, length, force = DeclaredUnits(**(units or {})).factors("test")
    np.savez(folder / "trajectory.npz", atomic_numbers=trajectory.atomic_numbers,
             positions=trajectory.positions / length)
    (folder / "labels" / "dft").mkdir(parents=True)
    index = np.arange(len(labels))
    np.savez(folder / "labels" / "dft" / "chunk_0000.npz", frame_index=index,
             energies=labels.energies / energy, forces=labels.forces / force,
             cpu_seconds=np.full(len(index), 0.01))


@pytest.mark.parametrize("units", [{"energy": "hartree", "length": "bohr"},
                                   {"energy": "eV", "length": "Angstrom",
                                    "force": "eV/Angstrom"},
                                   {"energy": "kcal/mol", "length": "Angstrom"}, None])
def test_dataset_folder_in_declared_units_loads_in_internal_units(tmp_path, make_frames, units):
    trajectory = make_frames(n_frames=6, labelled=False)
    labels = make_frames(n_frames=6, seed=1, positions=trajectory.positions)
    write_folder(tmp_path, trajectory, labels, units)
    dataset = load_dataset(tmp_path)
    np.testing.assert_allclose(dataset["dft"].positions, trajectory.positions, rtol=1e-12)
    np.testing.assert_allclose(dataset["dft"].energies, labels.energies, rtol=1e-12)
    np.testing.assert_allclose(dataset["dft"].forces, labels.forces, rtol=1e-12)
    applied = summarise(dataset)["units_read"]["dft"]
    assert applied == DeclaredUnits(**(units or {})).as_dict()


def test_inspect_shows_the_units_it_converted_from(tmp_path, make_frames, capsys):
    trajectory = make_frames(n_frames=4, labelled=False)
    labels = make_frames(n_frames=4, seed=1, positions=trajectory.positions)
    write_folder(tmp_path, trajectory, labels, {"energy": "hartree", "length": "bohr"})
    assert main(["data", "inspect", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["units"]["energy"] == "kcal/mol"
    assert shown["units_read"]["dft"] == {"energy": "hartree", "length": "bohr",
                                          "force": "hartree/bohr"}


@pytest.mark.parametrize(("units", "field"), [({"energy": "rydberg"}, "units.energy"),
                                              ({"length": "inch"}, "units.length"),
                                              ({"temperature": "K"}, "units.temperature")])
def test_unknown_units_in_dataset_json_exit_2_in_one_line(tmp_path, make_frames, capsys,
                                                         units, field):
    trajectory = make_frames(n_frames=4, labelled=False)
    write_folder(tmp_path, trajectory, make_frames(n_frames=4, positions=trajectory.positions),
                 None)
    description = json.loads((tmp_path / "dataset.json").read_text())
    (tmp_path / "dataset.json").write_text(json.dumps({**description, "units": units}))
    assert main(["data", "inspect", str(tmp_path)]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert f"dataset.json: field '{field}'" in message
