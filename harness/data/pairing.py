"""Matching frames of two levels by configuration (geometry), not by index.

Two files rarely share frame indices (MD17@CCSD frames come from the MD17 trajectory, and rMD17
re-labels a subset of it), so frames are matched by their coordinates: the largest absolute
difference of any coordinate must be within a tolerance, in Angstrom. Used for Delta-ML pairs
(accurate - inaccurate labels on one geometry) and to keep test frames out of training pools.

The default tolerance, 1e-3 Angstrom, is set by the real data: the MD17@CCSD(T) malonaldehyde
geometries that are rMD17 frames differ from them by up to 1.4e-4 Angstrom (rounding in one of
the files), while distinct frames of an MD trajectory differ by 1e-2 Angstrom or more.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from harness.data.frames import FrameSet

DEFAULT_TOLERANCE = 1e-3


def pair_frames(a: FrameSet, b: FrameSet,
                tolerance: float = DEFAULT_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ia, ib), ascending in ia, of frames with the same configuration.

    Each frame of ``a`` and each frame of ``b`` is used at most once: an a-frame takes the
    nearest b-frame within ``tolerance`` that no earlier a-frame took. Frames of different
    molecules (atomic numbers) never match.
    """
    empty = np.zeros(0, dtype=np.int64)
    if not np.array_equal(a.atomic_numbers, b.atomic_numbers) or len(a) == 0 or len(b) == 0:
        return empty, empty
    neighbours = _neighbours_within(a, b, tolerance)
    taken: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for index_a, candidates in enumerate(neighbours):
        if not candidates:
            continue
        distances = _max_abs_difference(a.positions[index_a], b.positions[candidates])
        for index_b in np.asarray(candidates)[np.argsort(distances, kind="stable")]:
            if int(index_b) not in taken:
                taken.add(int(index_b))
                pairs.append((index_a, int(index_b)))
                break
    if not pairs:
        return empty, empty
    ia, ib = np.asarray(pairs, dtype=np.int64).T
    return ia, ib


def matches_any(frames: FrameSet, others: FrameSet,
                tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
    """Boolean mask over ``frames``: True where the configuration is one of ``others``'.

    Unlike ``pair_frames`` this marks every duplicate, which is what keeping test frames out of
    a training pool needs.
    """
    if (not np.array_equal(frames.atomic_numbers, others.atomic_numbers)
            or len(frames) == 0 or len(others) == 0):
        return np.zeros(len(frames), dtype=bool)
    tree = cKDTree(_flat(others))
    nearest, _ = tree.query(_flat(frames), k=1, p=np.inf, distance_upper_bound=tolerance)
    return nearest <= tolerance


def _neighbours_within(a: FrameSet, b: FrameSet, tolerance: float) -> list[list[int]]:
    return cKDTree(_flat(b)).query_ball_point(_flat(a), r=tolerance, p=np.inf)


def _flat(frames: FrameSet) -> np.ndarray:
    return frames.positions.reshape(len(frames), -1)


def _max_abs_difference(position: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.abs(positions - position).reshape(len(positions), -1).max(axis=1)
