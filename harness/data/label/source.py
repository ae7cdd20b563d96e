"""The geometries to label, read from any dataset the readers know, with the source's labels.

A single file (MD17 / rMD17 npz, extxyz, ASE database) gives its frames and, when labelled,
its one level; a dataset folder gives its trajectory (the ``unlabeled`` level) and every
labelled level on the chosen frames. Everything is in the internal units (kcal/mol, Angstrom)
and in the file's atom order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from harness.data.frames import FrameSet
from harness.data.readers import load_any
from harness.data.store import UNLABELED_LEVEL
from harness.errors import DataError


@dataclass(frozen=True)
class Geometries:
    """The frames to label; ``own_levels`` are the source's labels on them, with ``frame_ids``
    the rows of ``positions`` they belong to."""

    molecule: str
    atomic_numbers: np.ndarray
    positions: np.ndarray  # (n_frames, n_atoms, 3), Angstrom
    own_levels: dict[str, FrameSet]
    source: str
    temperature_K: float | None  # of the source's sampling, where it says
    sampling_seconds: float | None  # CPU-seconds per sampled frame, where the source says


def read_geometries(path: str | Path, n_frames: int | None) -> Geometries:
    """The first ``n_frames`` geometries of ``path`` (all of them for None)."""
    dataset = load_any(path)
    base_name = UNLABELED_LEVEL if UNLABELED_LEVEL in dataset.levels else next(iter(dataset.levels))
    base = dataset[base_name]
    if n_frames is not None:
        if not 1 <= n_frames <= len(base):
            raise DataError(str(path), "frames", f"asked for the first {n_frames} geometries; "
                            f"the source holds {len(base)}")
        base = base.subset(np.arange(n_frames))
    own_levels = {name: _on_rows(frames, base, name == base_name)
                  for name, frames in dataset.levels.items() if frames.is_labelled}
    return Geometries(
        molecule=dataset.molecule,
        atomic_numbers=base.atomic_numbers,
        positions=base.positions,
        own_levels={name: frames for name, frames in own_levels.items() if len(frames)},
        source=str(path),
        temperature_K=base.temperature_K,
        sampling_seconds=None if base.is_labelled else base.seconds_per_label,
    )


def _on_rows(frames: FrameSet, base: FrameSet, is_base: bool) -> FrameSet:
    """``frames`` restricted to the chosen geometries, ``frame_ids`` set to their rows.

    The base level's frames are the geometries themselves; another level of a dataset folder
    names its trajectory frames by ``frame_ids``, which the base (the trajectory) shares.
    """
    if is_base:
        return replace(frames.subset(np.arange(len(base))), frame_ids=np.arange(len(base)))
    row_of = {int(frame_id): row for row, frame_id in enumerate(base.frame_ids)}
    keep = [index for index, frame_id in enumerate(frames.frame_ids) if int(frame_id) in row_of]
    rows = [row_of[int(frames.frame_ids[index])] for index in keep]
    return replace(frames.subset(keep), frame_ids=np.asarray(rows, dtype=np.int64))
