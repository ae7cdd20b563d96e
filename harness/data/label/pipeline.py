"""``harness data label``: label existing geometries at cheap levels into a dataset folder.

The output is the folder format of ``harness.data.store`` (what ``harness data generate``
writes), so it loads with ``load_any`` and can be named in a sweep spec: the geometries as the
trajectory, one chunked labels folder per level with the measured CPU-seconds per label, the
source's own labels as a level of their own (cost not measured), and a data card.

With a ``HeldOut`` the cheap levels skip the geometries every split of the source's accurate
level holds out for validation and test (and their duplicates): no training uses their cheap
labels, so on MD17@CCSD(T)'s 1,000 frames a DFT level costs 450 labels instead of 1,000.

Work happens in ``OUT.partial`` beside the output; a rerun of the same command resumes there
(finished chunks are skipped), and only a finished folder is renamed to ``OUT``. Bad input is
refused before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from harness.data.discrepancy import default_reference_level
from harness.data.frames import FrameSet
from harness.data.generate.labelers import KNOWN_LEVELS, make_labeler
from harness.data.generate.labelling import label_in_chunks
from harness.data.generate.molecule import (
    bonds_of,
    connectivity_of,
    molecule_from_geometry,
    smiles_of,
)
from harness.data.label.card import write_label_card
from harness.data.label.source import Geometries, read_geometries
from harness.data.pairing import matches_any
from harness.data.splits import held_out_frames
from harness.data.store import (
    read_description,
    read_trajectory,
    write_json_atomically,
    write_npz_atomically,
)
from harness.errors import ConfigError, DataError

UNITS = {"energy": "kcal/mol", "length": "Angstrom", "force": "kcal/mol/Angstrom"}


@dataclass(frozen=True)
class HeldOut:
    """The frames a split holds out, drawn from the source's ``accurate`` level (None: the
    level ``harness data compare`` takes as accurate) as training draws them: the training
    config's ``data.n_validation``, ``data.n_test`` and ``data.split_seed``."""

    accurate: str | None = None
    n_validation: int = 50
    n_test: int = 500
    split_seed: int = 0


@dataclass(frozen=True)
class LabelPlan:
    """Which levels, on how many of the source's geometries (the first ``n_frames``; None:
    all; with ``skip_held_out``, less a split's validation and test frames), in chunks of
    ``chunk_size`` labels, for a molecule of total ``charge`` (e)."""

    levels: tuple[str, ...]
    n_frames: int | None = None
    chunk_size: int = 100
    charge: int = 0
    skip_held_out: HeldOut | None = None


def label_dataset(source: str | Path, out: str | Path, plan: LabelPlan,
                  progress: bool = True) -> Path:
    """Label the geometries of ``source`` into the dataset folder ``out``; returns ``out``."""
    out = Path(out)
    _check_plan(plan)
    geometries = read_geometries(source, plan.n_frames)
    record = {"source": str(Path(source).resolve()), "frames": len(geometries.positions),
              "charge": plan.charge}
    rows = np.arange(len(geometries.positions))
    if plan.skip_held_out is not None:
        held_out = _resolved(plan.skip_held_out, geometries, str(source))
        rows = _rows_not_held_out(geometries, held_out)
        record["skip_held_out"] = asdict(held_out)
    if out.exists():
        _require_same_labelling(out, record, plan.levels)
        return out
    clashes = sorted(set(plan.levels) & set(geometries.own_levels))
    if clashes:
        raise DataError(str(source), "levels", f"already has level '{clashes[0]}'; leave it "
                        "out of --levels (the source's labels are kept)")
    molecule = molecule_from_geometry(geometries.atomic_numbers, geometries.positions[0],
                                      plan.charge, str(source))
    work = out.with_name(out.name + ".partial")
    if (work / "dataset.json").exists():  # written last by _start
        _require_same_geometries(work, record, geometries)
    else:
        _start(work, geometries, molecule, record)
    description = read_description(work)
    for level in plan.levels:
        labeler = make_labeler(level, molecule, work)
        description["levels"][level] = labeler.description
        write_json_atomically(work / "dataset.json", description)
        label_in_chunks(labeler, geometries.positions, rows, work / "labels" / level,
                        plan.chunk_size, progress)
    write_label_card(work)
    os.replace(work, out)
    return out


def _check_plan(plan: LabelPlan) -> None:
    for level in plan.levels:
        if level not in KNOWN_LEVELS:
            raise ConfigError("command line", "--levels", f"unknown level '{level}'; known: "
                              f"{', '.join(KNOWN_LEVELS)}")
    if not plan.levels or len(set(plan.levels)) != len(plan.levels):
        raise ConfigError("command line", "--levels", f"name each level once, got "
                          f"{list(plan.levels)}")
    if plan.chunk_size < 1:
        raise ConfigError("command line", "--chunk-size", f"must be positive, got "
                          f"{plan.chunk_size}")


def _resolved(held_out: HeldOut, geometries: Geometries, source: str) -> HeldOut:
    """``held_out`` with its accurate level named, once the source is known to hold it."""
    levels = geometries.own_levels
    name = held_out.accurate or default_reference_level(levels)
    if name is None or name not in levels:
        raise DataError(source, "levels", f"no accurate level '{name}' to hold frames out of; "
                        f"the source's labelled levels are {sorted(levels)} (name one with "
                        "--accurate)")
    needed = held_out.n_validation + held_out.n_test
    if len(levels[name]) < needed:
        raise DataError(source, "frames", f"level '{name}' has {len(levels[name])} frames, "
                        f"fewer than the {needed} validation and test frames to hold out")
    return replace(held_out, accurate=name)


def _rows_not_held_out(geometries: Geometries, held_out: HeldOut) -> np.ndarray:
    """The source rows whose configuration is none of the split's held-out frames."""
    frames = held_out_frames(geometries.own_levels[held_out.accurate], held_out.n_validation,
                             held_out.n_test, held_out.split_seed)
    every = FrameSet(molecule=geometries.molecule, level="geometries",
                     atomic_numbers=geometries.atomic_numbers, positions=geometries.positions,
                     energies=None, forces=None, source=geometries.source)
    return np.flatnonzero(~matches_any(every, frames))


def _start(work: Path, geometries: Geometries, molecule, record: dict) -> None:
    """The trajectory, the source's own levels and ``dataset.json``, before any labelling."""
    write_npz_atomically(work / "trajectory.npz", atomic_numbers=geometries.atomic_numbers,
                         positions=geometries.positions)
    levels = {}
    for name, frames in geometries.own_levels.items():
        cost = np.nan if frames.seconds_per_label is None else frames.seconds_per_label
        write_npz_atomically(work / "labels" / name / "chunk_0000.npz",
                             frame_index=frames.frame_ids, energies=frames.energies,
                             forces=frames.forces.astype(np.float32),
                             cpu_seconds=np.full(len(frames), cost))
        levels[name] = frames.metadata.get("description") or f"labels of {frames.source}"
    topology_bonds = bonds_of(molecule)
    other_bonds = sum(connectivity_of(geometries.atomic_numbers, positions) != topology_bonds
                      for positions in geometries.positions)
    write_json_atomically(work / "dataset.json", {
        "molecule": geometries.molecule,
        "smiles": smiles_of(molecule),
        "units": UNITS,
        "sampling": {"method": f"not sampled here: the geometries of {geometries.source}",
                     "temperature_K": geometries.temperature_K,
                     "cpu_seconds_per_frame": geometries.sampling_seconds},
        "labelled_from": record,
        "topology": {"bonds": sorted(list(bond) for bond in topology_bonds),
                     "frames_with_other_bonds": int(other_bonds)},
        "levels": levels,
    })


def _require_same_labelling(out: Path, record: dict, levels: tuple[str, ...]) -> None:
    """A finished ``out`` is left as it is when it holds this labelling, else refused."""
    description = read_description(out)
    missing = sorted(set(levels) - set(description["levels"]))
    if description.get("labelled_from") != record or missing:
        raise DataError(str(out), "path", f"exists and holds another labelling (of "
                        f"{description.get('labelled_from')}, levels "
                        f"{sorted(description['levels'])}); remove it or choose another folder")


def _require_same_geometries(work: Path, record: dict, geometries: Geometries) -> None:
    """An unfinished ``work`` folder is resumed only for the same source, frames and charge."""
    description = read_description(work)
    _, positions = read_trajectory(work)
    if description.get("labelled_from") != record or not np.array_equal(
            positions, geometries.positions):
        raise DataError(str(work), "labelled_from", f"an unfinished labelling of "
                        f"{description.get('labelled_from')}, not of {record}; remove it to "
                        "start again")
