"""Conversions into kcal/mol and Angstrom agree with reference values, on their own and in files."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.readers import read_ase
from harness.data.units import energy_factor, force_factor, length_factor
from harness.data.writers import write_extxyz
from harness.errors import DataError


@pytest.mark.parametrize(("unit", "kcal_per_mol"), [
    ("hartree", 627.5095), ("eV", 23.06055), ("kJ/mol", 1 / 4.184), ("kcal/mol", 1.0),
    ("Hartree", 627.5095), (" EV ", 23.06055),
])
def test_energy_units(unit, kcal_per_mol):
    assert energy_factor(unit) == pytest.approx(kcal_per_mol, abs=1e-4)


@pytest.mark.parametrize(("unit", "angstrom"), [
    ("bohr", 0.52917721), ("angstrom", 1.0), ("nm", 10.0), ("Angstrom", 1.0),
])
def test_length_units(unit, angstrom):
    assert length_factor(unit) == pytest.approx(angstrom, abs=1e-7)


def test_hartree_per_bohr_force():
    assert force_factor("hartree", "bohr") == pytest.approx(627.5095 / 0.52917721, rel=1e-6)


def test_unknown_unit_names_source_and_field():
    with pytest.raises(DataError, match=r"f\.xyz: field 'energy_unit'.*unknown unit 'Ry'"):
        energy_factor("Ry", source="f.xyz")


def test_file_in_hartree_and_bohr_is_converted_on_reading(tmp_path, make_frames):
    """The same numbers read as hartree and bohr instead of eV and Angstrom scale accordingly."""
    frames = make_frames(n_frames=4)
    path = write_extxyz(frames, tmp_path / "frames.xyz")
    in_ev = read_ase(path, level="x")
    in_hartree = read_ase(path, level="x", energy_unit="hartree", length_unit="bohr")
    hartree_in_ev = 27.211386
    np.testing.assert_allclose(in_hartree.energies, in_ev.energies * hartree_in_ev, rtol=1e-6)
    np.testing.assert_allclose(in_hartree.positions, in_ev.positions * 0.52917721, rtol=1e-6)
    np.testing.assert_allclose(in_hartree.forces, in_ev.forces * hartree_in_ev / 0.52917721,
                               rtol=1e-6)
