"""The harness's own on-disk dataset: one sampled trajectory and label chunks per level.

Layout of a dataset folder::

    dataset.json                 molecule, SMILES, level descriptions, units, sampling settings
                                 (``units``: energy, length, force; the arrays below are in
                                 them, kcal/mol and Angstrom as ``generate`` writes them)
    trajectory.npz               atomic_numbers, positions (Angstrom, float64)
    labels/<level>/chunk_NNNN.npz
                                 frame_index, energies (kcal/mol, float64),
                                 forces (kcal/mol/Angstrom, float32), cpu_seconds per label
                                 (NaN where not measured: labels kept from another source)

Labels are written in chunks so that hours of CCSD can stop and resume without loss; a level's
labels are the union of its chunks. Forces are stored in float32 (a relative rounding of 6e-8,
far below any level's error) to keep the committed data small.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from harness.data.frames import (
    ENERGY_UNIT,
    FORCE_UNIT,
    LENGTH_UNIT,
    FrameSet,
    MultiFidelityDataset,
)
from harness.data.units import DeclaredUnits
from harness.errors import DataError

UNLABELED_LEVEL = "unlabeled"


def write_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write through a temporary file and a rename, so that a killed writer leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(temporary, **arrays)
    os.replace(temporary, path)


def write_json_atomically(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def read_description(folder: Path) -> dict:
    path = Path(folder) / "dataset.json"
    if not path.exists():
        raise DataError(str(path), "dataset.json", "missing: not a harness dataset folder")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(str(path), "dataset.json", f"malformed JSON ({error})") from error


def read_trajectory(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Atomic numbers and positions of the sampled trajectory."""
    path = Path(folder) / "trajectory.npz"
    with np.load(path) as content:
        for key in ("atomic_numbers", "positions"):
            if key not in content:
                raise DataError(str(path), key, "missing")
        return content["atomic_numbers"], content["positions"]


def chunk_paths(folder: Path, level: str) -> list[Path]:
    return sorted((Path(folder) / "labels" / level).glob("chunk_[0-9][0-9][0-9][0-9].npz"))


def read_level_labels(folder: Path, level: str) -> dict[str, np.ndarray]:
    """Concatenated chunks of one level, sorted by frame index."""
    paths = chunk_paths(folder, level)
    if not paths:
        raise DataError(str(Path(folder) / "labels" / level), "chunks", "no label chunks")
    parts: dict[str, list[np.ndarray]] = {
        "frame_index": [], "energies": [], "forces": [], "cpu_seconds": []
    }
    for path in paths:
        with np.load(path) as content:
            for key in parts:
                if key not in content:
                    raise DataError(str(path), key, "missing")
                parts[key].append(content[key])
    merged = {key: np.concatenate(values) for key, values in parts.items()}
    order = np.argsort(merged["frame_index"], kind="stable")
    return {key: values[order] for key, values in merged.items()}


def declared_units(description: dict, source: str) -> DeclaredUnits:
    """The ``units`` block of ``dataset.json`` (kcal/mol and Angstrom where it has none).

    Unknown entries and unknown unit names are errors, never ignored.
    """
    block = description.get("units") or {}
    if not isinstance(block, dict):
        raise DataError(source, "units", "expected a mapping such as "
                        "{'energy': 'hartree', 'length': 'bohr'}")
    unknown = sorted(set(block) - {"energy", "length", "force"})
    if unknown:
        raise DataError(source, f"units.{unknown[0]}", "unknown entry; known: energy, length, "
                        "force")
    units = DeclaredUnits(**{key: str(value) for key, value in block.items()})
    units.factors(source, ("units.energy", "units.length", "units.force"))
    return units


def load_dataset(folder: str | Path) -> MultiFidelityDataset:
    """Every labelled level of a dataset folder, plus the trajectory as ``unlabeled`` samples,
    converted from the units ``dataset.json`` declares into the internal ones."""
    folder = Path(folder)
    description = read_description(folder)
    units = declared_units(description, str(folder / "dataset.json"))
    to_kcal_per_mol, to_angstrom, to_force = units.factors(str(folder / "dataset.json"))
    atomic_numbers, positions = read_trajectory(folder)
    positions = positions * to_angstrom
    molecule = description["molecule"]
    temperature = description["sampling"]["temperature_K"]
    levels: dict[str, FrameSet] = {
        UNLABELED_LEVEL: FrameSet(
            molecule=molecule,
            level=UNLABELED_LEVEL,
            atomic_numbers=atomic_numbers,
            positions=positions,
            energies=None,
            forces=None,
            source=str(folder / "trajectory.npz"),
            frame_ids=np.arange(len(positions)),
            seconds_per_label=description["sampling"]["cpu_seconds_per_frame"],
            temperature_K=temperature,
            metadata={"declared_units": units.as_dict()},
        )
    }
    for level in description["levels"]:
        if not chunk_paths(folder, level):
            continue
        labels = read_level_labels(folder, level)
        index = labels["frame_index"]
        if index.max(initial=-1) >= len(positions) or index.min(initial=0) < 0:
            raise DataError(str(folder / "labels" / level), "frame_index", "outside the trajectory")
        levels[level] = FrameSet(
            molecule=molecule,
            level=level,
            atomic_numbers=atomic_numbers,
            positions=positions[index],
            energies=labels["energies"] * to_kcal_per_mol,
            forces=labels["forces"] * to_force,
            source=str(folder / "labels" / level),
            frame_ids=index,
            seconds_per_label=_measured_seconds(labels["cpu_seconds"]),
            temperature_K=temperature,
            metadata={"description": description["levels"][level],
                      "declared_units": units.as_dict()},
        )
    return MultiFidelityDataset(molecule=molecule, levels=levels, source=str(folder))


def _measured_seconds(cpu_seconds: np.ndarray) -> float | None:
    """Mean CPU-seconds per label, or None where any label's cost was not measured (NaN)."""
    return float(cpu_seconds.mean()) if np.isfinite(cpu_seconds).all() else None


def summarise(dataset: MultiFidelityDataset) -> dict:
    """What ``harness data inspect`` prints: levels, frames, units, cost and temperature.

    ``units`` are those of the loaded values (always the internal ones); ``units_read`` those
    each level's file declared, which the readers converted from.
    """
    temperatures = {frames.temperature_K for frames in dataset.levels.values()} - {None}
    return {
        "molecule": dataset.molecule,
        "source": dataset.source,
        "n_atoms": next(iter(dataset.levels.values())).n_atoms,
        "levels": sorted(dataset.levels),
        "frames_per_level": {name: len(frames) for name, frames in dataset.levels.items()},
        "seconds_per_label": {
            name: frames.seconds_per_label for name, frames in dataset.levels.items()
        },
        "units": {"energy": ENERGY_UNIT, "length": LENGTH_UNIT, "force": FORCE_UNIT},
        "units_read": {name: frames.metadata.get("declared_units")
                       for name, frames in dataset.levels.items()},
        "temperature_K": temperatures.pop() if len(temperatures) == 1 else None,
    }
