"""Readers of the field's data formats into ``FrameSet`` (kcal/mol, Angstrom, kcal/mol/Angstrom).

MD17 and MD17@CCSD npz (keys R, z, E, F) and rMD17 npz (nuclear_charges, coords, energies,
forces) use kcal/mol and Angstrom unless they declare units (sGDML's ``e_unit`` and ``r_unit``,
or ``energy_unit``, ``length_unit``, ``force_unit``), which are then converted; extxyz, ASE
databases and trajectories use ASE's eV and Angstrom. Conversions use ``harness.data.units``.
Every bad input raises a ``DataError`` that names the file and the key as the file spells it
(``R``, not ``positions``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from harness.data.atom_order import check_atom_order
from harness.data.frames import FrameSet, MultiFidelityDataset, describe_atom_mismatch
from harness.data.store import load_dataset
from harness.data.units import DeclaredUnits, energy_factor, length_factor
from harness.errors import DataError

ASE_SUFFIXES = (".xyz", ".extxyz", ".db", ".traj")
UNSPECIFIED_LEVEL = "unspecified"
RMD17_LEVELS = {"new": "rmd17-pbe-def2svp", "old": "md17-pbe-vdwts"}

# FrameSet field -> key of the file format, so that validation errors name the file's key.
MD17_KEYS = {"atomic_numbers": "z", "positions": "R", "energies": "E", "forces": "F"}
# npz keys that declare units: sGDML's e_unit and r_unit, or the spelled-out names.
UNIT_KEYS = {"energy": ("e_unit", "energy_unit"), "length": ("r_unit", "length_unit"),
             "force": ("force_unit",)}


def _rmd17_keys(labels: str) -> dict[str, str]:
    """rMD17 keys; ``labels='old'`` selects the original MD17 DFT labels stored beside the new."""
    prefix = "old_" if labels == "old" else ""
    return {"atomic_numbers": "nuclear_charges", "positions": "coords",
            "energies": f"{prefix}energies", "forces": f"{prefix}forces",
            "frame_ids": "old_indices"}


def read_md17_npz(path: str | Path, level: str | None = None,
                  molecule: str | None = None) -> FrameSet:
    """An MD17 or MD17@CCSD npz; ``name`` and ``theory`` keys give molecule and level if unset."""
    content = _load_npz(path)
    return _md17_frames(content, str(path), level, molecule)


def read_rmd17_npz(path: str | Path, labels: str = "new", level: str | None = None) -> FrameSet:
    """An rMD17 npz: its PBE/def2-SVP labels, or with ``labels='old'`` the original MD17 DFT."""
    source = str(path)
    if labels not in RMD17_LEVELS:
        raise DataError(source, "labels", f"unknown '{labels}'; known: {sorted(RMD17_LEVELS)}")
    content = _load_npz(path)
    return _rmd17_frames(content, source, labels, level)


def read_ase(path: str | Path, level: str | None = None, molecule: str | None = None,
             energy_unit: str = "eV", length_unit: str = "angstrom") -> FrameSet:
    """Frames of an extxyz file, ASE database or trajectory, labels from the attached calculator.

    Files without any calculator results give unlabeled frames. ``level`` and ``molecule``
    default to the ``level`` and ``molecule`` entries of the first frame's info (as written by
    ``write_extxyz``), then to 'unspecified' and the file name.
    """
    source = str(path)
    to_kcal_per_mol = energy_factor(energy_unit, source)
    to_angstrom = length_factor(length_unit, source)
    images = _read_images(path)
    atomic_numbers = images[0].numbers
    for index, atoms in enumerate(images):
        if not np.array_equal(atoms.numbers, atomic_numbers):
            raise DataError(source, "atomic_numbers",
                            f"frame {index} has atoms {atoms.numbers.tolist()} but frame 0 has "
                            f"{atomic_numbers.tolist()}: "
                            + describe_atom_mismatch(atomic_numbers, atoms.numbers))
    energies, forces = _calculator_labels(images, source)
    info = images[0].info
    frame_ids = [atoms.info.get("frame_id") for atoms in images]
    return _build_frames(
        {}, source,
        molecule=molecule or str(info.get("molecule") or molecule_name(Path(path).stem)),
        level=level or str(info.get("level") or UNSPECIFIED_LEVEL),
        atomic_numbers=atomic_numbers,
        positions=np.stack([atoms.positions for atoms in images]) * to_angstrom,
        energies=None if energies is None else energies * to_kcal_per_mol,
        forces=None if forces is None else forces * (to_kcal_per_mol / to_angstrom),
        frame_ids=None if None in frame_ids else np.asarray(frame_ids),
        metadata={"format": "ase", "energy_unit": energy_unit, "length_unit": length_unit,
                  "declared_units": DeclaredUnits(energy_unit, length_unit).as_dict()},
    )


def load_any(path: str | Path) -> MultiFidelityDataset:
    """A harness dataset folder, or one file of any supported format as a one-level dataset."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "path", "no such file or folder")
    if path.is_dir():
        return load_dataset(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        frames = _read_npz(path)
    elif suffix in ASE_SUFFIXES:
        frames = read_ase(path)
    else:
        raise DataError(str(path), "path", f"unknown file type '{suffix}'; known: .npz, "
                        f"{', '.join(ASE_SUFFIXES)} or a dataset folder")
    return combine_levels([frames], source=str(path))


def combine_levels(levels: list[FrameSet], source: str) -> MultiFidelityDataset:
    """Levels of one molecule read from separate files, e.g. a CCSD(T) file and an rMD17 file."""
    if not levels:
        raise DataError(source, "levels", "no levels to combine")
    molecule = levels[0].molecule
    by_name: dict[str, FrameSet] = {}
    for frames in levels:
        if frames.molecule != molecule:
            raise DataError(frames.source, "molecule",
                            f"'{frames.molecule}' but {levels[0].source} holds '{molecule}'; "
                            "pass molecule= to the reader if they are the same molecule")
        if frames.level in by_name:
            raise DataError(frames.source, "level",
                            f"level '{frames.level}' also comes from {by_name[frames.level].source}"
                            "; pass level= to the reader to tell them apart")
        check_atom_order(levels[0], frames)
        by_name[frames.level] = frames
    return MultiFidelityDataset(molecule=molecule, levels=by_name, source=source)


def _read_npz(path: Path) -> FrameSet:
    """An MD17 or rMD17 npz, told apart by its keys."""
    content = _load_npz(path)
    if "nuclear_charges" in content:
        return _rmd17_frames(content, str(path), "new", None)
    if "R" in content:
        return _md17_frames(content, str(path), None, None)
    raise DataError(str(path), "keys", f"neither MD17 (R, z, E, F) nor rMD17 (nuclear_charges, "
                    f"coords, energies, forces) keys; found {sorted(content)}")


def _md17_frames(content: dict[str, np.ndarray], source: str, level: str | None,
                molecule: str | None) -> FrameSet:
    units = declared_npz_units(content, source)
    return _build_frames(
        MD17_KEYS, source,
        molecule=molecule or molecule_name(_text_value(content, "name") or Path(source).stem),
        level=level or level_name(_text_value(content, "theory") or UNSPECIFIED_LEVEL),
        atomic_numbers=_atomic_numbers(content, "z", source),
        **_converted(content, source, MD17_KEYS, units),
        metadata={"format": "md17", "declared_units": units.as_dict()},
    )


def _rmd17_frames(content: dict[str, np.ndarray], source: str, labels: str,
                 level: str | None) -> FrameSet:
    keys = _rmd17_keys(labels)
    units = declared_npz_units(content, source)
    return _build_frames(
        keys, source,
        molecule=molecule_name(_text_value(content, "name") or Path(source).stem),
        level=level or RMD17_LEVELS[labels],
        atomic_numbers=_atomic_numbers(content, keys["atomic_numbers"], source),
        **_converted(content, source, keys, units),
        frame_ids=content.get(keys["frame_ids"]),
        metadata={"format": "rmd17", "labels": labels, "declared_units": units.as_dict()},
    )


def declared_npz_units(content: dict[str, np.ndarray], source: str) -> DeclaredUnits:
    """The units an npz declares (kcal/mol and Angstrom where it declares none).

    A key that looks like a unit declaration but is not one of ``UNIT_KEYS`` is an error
    rather than ignored, as is a unit this project does not know.
    """
    known = {key for keys in UNIT_KEYS.values() for key in keys}
    for key in sorted(content):
        if "unit" in key.lower() and key not in known:
            raise DataError(source, key, f"unknown unit key; known: {sorted(known)}")
    declared: dict[str, str] = {}
    for quantity, keys in UNIT_KEYS.items():
        values = {key: _unit_name(content, key, source) for key in keys if key in content}
        if len(set(values.values())) > 1:
            raise DataError(source, ", ".join(values), f"disagree: {values}")
        if values:
            declared[quantity] = next(iter(values.values()))
    units = DeclaredUnits(**declared)
    present = {quantity: next((key for key in keys if key in content), keys[-1])
               for quantity, keys in UNIT_KEYS.items()}
    units.factors(source, (present["energy"], present["length"], present["force"]))
    return units


def _unit_name(content: dict[str, np.ndarray], key: str, source: str) -> str:
    name = _text_value(content, key)
    if name is None:
        raise DataError(source, key, "expected one unit name as a string, e.g. 'hartree'")
    return name


def _converted(content: dict[str, np.ndarray], source: str, keys: dict[str, str],
               units: DeclaredUnits) -> dict[str, np.ndarray]:
    """Positions, energies and forces of an npz, from ``units`` into the internal units."""
    energy, length, force = units.factors(source)
    return {"positions": _numeric(content, keys["positions"], source) * length,
            "energies": _energy_column(content, keys["energies"], source) * energy,
            "forces": _numeric(content, keys["forces"], source) * force}


def _build_frames(keys: dict[str, str], source: str, **fields) -> FrameSet:
    """A FrameSet whose validation errors name the file's key for each field; a file of no
    frames is an error too (nothing to train or test on)."""
    try:
        frames = FrameSet(source=source, **fields)
    except DataError as error:
        raise DataError(source, keys.get(error.field, error.field), error.problem) from error
    if len(frames) == 0:
        raise DataError(source, keys.get("positions", "positions"), "the file holds no frames")
    return frames


def _load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an npz file, read eagerly so the file is closed on return."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "path", "no such file")
    if not zipfile.is_zipfile(path):  # numpy would try it as a pickle and say so
        raise DataError(str(path), "file", "not an npz archive (not a zip file); write it "
                        "with numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as content:
            return {key: content[key] for key in content.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(str(path), "file", f"not a readable npz archive ({error})") from error


def _read_images(path: str | Path) -> list:
    """All frames of an ASE-readable file as a non-empty list of ``ase.Atoms``."""
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "path", "no such file")
    try:
        images = ase.io.read(path, index=":")
    # ASE's many format readers raise many kinds of exceptions on malformed files.
    except Exception as error:
        raise DataError(str(path), "file", f"not readable by ase.io ({error})") from error
    if not images:
        raise DataError(str(path), "frames", "the file holds no frames")
    return images


def _calculator_labels(images: list, source: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Energies (n,) and forces (n, k, 3) in the file's units, or (None, None) if unlabeled."""
    labelled = [atoms.calc is not None and "energy" in atoms.calc.results for atoms in images]
    if not any(labelled):
        return None, None
    if not all(labelled):
        raise DataError(source, "energy", f"frame {labelled.index(False)} has no energy while "
                        f"frame {labelled.index(True)} has one; label all frames or none")
    energies, forces = [], []
    for index, atoms in enumerate(images):
        if "forces" not in atoms.calc.results:
            raise DataError(source, "forces", f"frame {index} has an energy but no forces")
        energies.append(atoms.calc.results["energy"])
        forces.append(atoms.calc.results["forces"])
    return np.asarray(energies, dtype=np.float64), np.asarray(forces, dtype=np.float64)


def _required(content: dict[str, np.ndarray], key: str, source: str) -> np.ndarray:
    if key not in content:
        raise DataError(source, key, f"missing; the file has keys {sorted(content)}")
    return content[key]


def _numeric(content: dict[str, np.ndarray], key: str, source: str) -> np.ndarray:
    values = _required(content, key, source)
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise DataError(source, key, f"expected numbers, got dtype {values.dtype}")
    return values.astype(np.float64)


def _atomic_numbers(content: dict[str, np.ndarray], key: str, source: str) -> np.ndarray:
    values = _numeric(content, key, source)
    if not np.array_equal(values, np.round(values)):
        raise DataError(source, key, "atomic numbers must be whole numbers")
    return values.astype(np.int64)


def _energy_column(content: dict[str, np.ndarray], key: str, source: str) -> np.ndarray:
    """Energies stored as (n,) or, as sGDML does, (n, 1)."""
    values = _numeric(content, key, source)
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    if values.ndim != 1:
        raise DataError(source, key, f"expected shape (n_frames,) or (n_frames, 1), "
                        f"got {values.shape}")
    return values


def _text_value(content: dict[str, np.ndarray], key: str) -> str | None:
    """A scalar string entry such as sGDML's ``name`` or ``theory`` (stored as str or bytes)."""
    if key not in content or content[key].ndim != 0:
        return None
    value = content[key].item()
    return value.decode() if isinstance(value, bytes) else str(value)


def molecule_name(raw: str) -> str:
    """'malonaldehyde' from 'malonaldehyde_ccsd', 'rmd17_malonaldehyde_train_01', 'md17_aspirin'."""
    name = raw.strip().lower()
    name = re.sub(r"^r?md17_", "", name)
    name = re.sub(r"[_-](train|test)([_-]?\d+)?$", "", name)
    return re.sub(r"_(ccsd_t|ccsd|dft)$", "", name)


def level_name(theory: str) -> str:
    """A level slug from an sGDML theory string: 'Psi4: CCSD(T), cc-pVDZ' -> 'ccsd(t)-cc-pvdz'."""
    method = theory.split(":", 1)[-1].strip().lower()
    return re.sub(r"[^a-z0-9()+.*-]+", "-", method).strip("-")
