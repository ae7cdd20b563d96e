"""``harness data label``: label existing geometries at cheap levels into a dataset folder.

The output is the folder format of ``harness.data.store`` (what ``harness data generate``
writes), so it loads with ``load_any`` and can be named in a sweep spec: the geometries as the
trajectory, one chunked labels folder per level with the measured CPU-seconds per label, the
source's own labels as a level of their own (cost not measured), and a data card.

With ``TestFrames`` the cheap levels skip the geometries every split of the source's accurate
level holds out for testing (and their duplicates): nothing uses their cheap labels, so on
MD17@CCSD(T)'s 1,000 frames a DFT level costs 500 labels instead of 1,000.

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
from harness.data.splits import test_frames
from harness.data.store import (
    read_description,
    read_trajectory,
    write_json_atomically,
    write_npz_atomically,
)
from harness.errors import ConfigError, DataError

UNITS = {"energy": "kcal/mol", "length": "Angstrom", "force": "kcal/mol/Angstrom"}


@dataclass(frozen=True)
class TestFrames:
    """The test frames of a split, drawn from the source's ``accurate`` level (None: the
    level ``harness data compare`` takes as accurate) as training draws them: the training
    config's ``data.n_test`` and ``data.split_seed``."""

    accurate: str | None = None
    n_test: int = 500
    split_seed: int = 0


@dataclass(frozen=True)
class LabelPlan:
    """Which levels, on how many of the source's geometries (the first ``n_frames``; None:
    all; with ``skip_test``, less a split's test frames), in chunks of
    ``chunk_size`` labels, for a molecule of total ``charge`` (e)."""

    levels: tuple[str, ...]
    n_frames: int | None = None
    chunk_size: int = 100
    charge: int = 0
    skip_test: TestFrames | None = None


def label_dataset(source: str | Path, out: str | Path, plan: LabelPlan,
                  progress: bool = True) -> Path:
    """Label the geometries of ``source`` into the dataset folder ``out``; returns ``out``."""
    out = Path(out)
    _check_plan(plan)
    geometries = read_geometries(source, plan.n_frames)
    record = {"source": str(Path(source).resolve()), "frames": len(geometries.positions),
              "charge": plan.charge}
    rows = np.arange(len(geometries.positions))
    if plan.skip_test is not None:
        test = _resolved(plan.skip_test, geometries, str(source))
        rows = _rows_not_tested(geometries, test)
        record["skip_test_frames"] = asdict(test)
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


def _resolved(test: TestFrames, geometries: Geometries, source: str) -> TestFrames:
    """``test`` with its accurate level named, once the source is known to hold it."""
    levels = geometries.own_levels
    name = test.accurate or default_reference_level(levels)
    if name is None or name not in levels:
        raise DataError(source, "levels", f"no accurate level '{name}' to draw test frames "
                        f"from; the source's labelled levels are {sorted(levels)} (name one "
                        "with --accurate)")
    if len(levels[name]) <= test.n_test:
        raise DataError(source, "frames", f"level '{name}' has {len(levels[name])} frames, "
                        f"no more than the {test.n_test} test frames to skip")
    return replace(test, accurate=name)


def _rows_not_tested(geometries: Geometries, test: TestFrames) -> np.ndarray:
    """The source rows whose configuration is none of the split's test frames."""
    frames = test_frames(geometries.own_levels[test.accurate], test.n_test, test.split_seed)
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
