"""Writers of ``FrameSet`` into the field's formats, for round trips and for users exporting.

MD17 and rMD17 npz keep the internal units (kcal/mol, Angstrom); extxyz is written in ASE's
units (eV, Angstrom, eV/Angstrom) with the labels on a ``SinglePointCalculator``, so that any
ASE-based code reads them back unchanged. What the reader needs beyond the format's own keys
(molecule, level, frame ids) travels as ``name`` and ``theory`` keys or extxyz info entries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data.frames import FrameSet
from harness.data.units import DeclaredUnits, energy_factor
from harness.errors import DataError


def write_md17_npz(frames: FrameSet, path: str | Path, units: DeclaredUnits | None = None
                   ) -> Path:
    """The sGDML layout: R, z, E (n, 1), F, plus ``name`` (molecule) and ``theory`` (level).

    With ``units`` the values are written in those units and declared with sGDML's ``e_unit``
    and ``r_unit`` keys (and ``force_unit`` where it is not energy/length); without, in the
    internal kcal/mol and Angstrom and undeclared, as MD17 files are.
    """
    _require_labels(frames, path, "MD17")
    energy, length, force = (1.0, 1.0, 1.0) if units is None else units.factors(str(path))
    declared = {} if units is None else {"e_unit": np.array(units.energy),
                                         "r_unit": np.array(units.length)}
    if units is not None and units.force is not None:
        declared["force_unit"] = np.array(units.force)
    return _write_npz(path, R=frames.positions / length, z=frames.atomic_numbers,
                      E=frames.energies[:, None] / energy, F=frames.forces / force,
                      name=np.array(frames.molecule), theory=np.array(frames.level), **declared)


def write_rmd17_npz(frames: FrameSet, path: str | Path) -> Path:
    """The rMD17 layout; frame ids go to ``old_indices`` and the molecule to ``name``."""
    _require_labels(frames, path, "rMD17")
    return _write_npz(path, nuclear_charges=frames.atomic_numbers, coords=frames.positions,
                      energies=frames.energies, forces=frames.forces,
                      old_indices=frames.frame_ids, name=np.array(frames.molecule))


def write_extxyz(frames: FrameSet, path: str | Path) -> Path:
    """Extended XYZ in eV and eV/Angstrom; unlabeled frames are written without a calculator."""
    import ase.io
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    kcal_per_mol_to_ev = 1.0 / energy_factor("eV")
    images = []
    for index in range(len(frames)):
        atoms = Atoms(numbers=frames.atomic_numbers, positions=frames.positions[index])
        atoms.info.update(molecule=frames.molecule, level=frames.level,
                          frame_id=int(frames.frame_ids[index]))
        if frames.is_labelled:
            atoms.calc = SinglePointCalculator(
                atoms, energy=float(frames.energies[index]) * kcal_per_mol_to_ev,
                forces=frames.forces[index] * kcal_per_mol_to_ev)
        images.append(atoms)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(path, images, format="extxyz")
    return path


def _require_labels(frames: FrameSet, path: str | Path, format_name: str) -> None:
    if not frames.is_labelled:
        raise DataError(frames.source, "energies",
                        f"unlabeled frames cannot be written as {format_name} ({path}); "
                        "use write_extxyz")


def _write_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write to exactly ``path`` (numpy would append '.npz' to a name without it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path
