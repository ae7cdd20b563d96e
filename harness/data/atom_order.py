"""Do two levels list the atoms of their molecule in the same order? Read from the geometries.

Frames of two levels pair by geometry (``harness.data.pairing``) only when atom ``i`` of one is
atom ``i`` of the other. A file whose atoms are reordered, even two carbons swapped, pairs with
nothing: Delta-ML loses its pairs and accurate test frames can slip into a cheap training pool.
The order is therefore checked on geometries the two levels share: each frame is given a
descriptor that ignores the order of atoms of one element (per element, each Cartesian axis
sorted), frames with equal descriptors are candidate pairs, and a candidate pair that matches
atom by atom within the tolerance (Angstrom) gives the permutation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from harness.data.frames import FrameSet
from harness.data.pairing import DEFAULT_TOLERANCE, matches_any
from harness.errors import DataError

SAMPLED_FRAMES = 64  # frames of the other level looked at; a consistent order shows in a few


def order_free_descriptor(atomic_numbers: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n_frames, 3 n_atoms): per element (ascending atomic number), each axis sorted.

    Sorting is 1-Lipschitz in the max norm, so frames within ``tolerance`` of a reordered
    copy of each other have descriptors within ``tolerance`` too.
    """
    parts = []
    for element in np.unique(atomic_numbers):
        of_element = positions[:, atomic_numbers == element, :]
        parts.append(np.sort(of_element, axis=1).reshape(len(positions), -1))
    return np.concatenate(parts, axis=1)


def frame_permutation(reference_z: np.ndarray, reference_positions: np.ndarray,
                      other_z: np.ndarray, other_positions: np.ndarray,
                      tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray | None:
    """``p`` with other atom ``j`` = reference atom ``p[j]`` in one geometry, or None.

    Each atom must have exactly one atom of the same element within ``tolerance`` (Angstrom).
    """
    distance = np.abs(other_positions[:, None, :] - reference_positions[None, :, :]).max(axis=2)
    close = (distance <= tolerance) & (other_z[:, None] == reference_z[None, :])
    if not np.all(close.sum(axis=1) == 1):
        return None
    permutation = close.argmax(axis=1)
    return permutation if len(set(permutation.tolist())) == len(permutation) else None


def atom_permutation(reference: FrameSet, other: FrameSet,
                     tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray | None:
    """The order of ``other``'s atoms relative to ``reference``'s, read from shared geometries.

    None when the order is the same, or when the levels share no geometry (nothing to read it
    from). Raises ``DataError`` when shared geometries disagree about the order.
    """
    if sorted(reference.atomic_numbers) != sorted(other.atomic_numbers):
        return None
    sample = other.subset(np.linspace(0, len(other) - 1, min(len(other), SAMPLED_FRAMES),
                                      dtype=np.int64)) if len(other) else other
    if len(sample) == 0 or len(reference) == 0:
        return None
    if (np.array_equal(reference.atomic_numbers, other.atomic_numbers)
            and matches_any(sample, reference, tolerance).any()):
        return None
    tree = cKDTree(order_free_descriptor(reference.atomic_numbers, reference.positions))
    distances, nearest = tree.query(
        order_free_descriptor(sample.atomic_numbers, sample.positions), k=1, p=np.inf,
        distance_upper_bound=tolerance)
    found: dict[tuple[int, ...], int] = {}
    for index, (distance, reference_index) in enumerate(zip(distances, nearest, strict=True)):
        if distance > tolerance:
            continue
        permutation = frame_permutation(reference.atomic_numbers,
                                        reference.positions[reference_index],
                                        sample.atomic_numbers, sample.positions[index], tolerance)
        if permutation is not None:
            found.setdefault(tuple(permutation.tolist()), index)
    if not found:
        return None
    if len(found) > 1:
        raise DataError(other.source, "positions",
                        f"frames share geometries with level '{reference.level}' "
                        f"({reference.source}) but with {len(found)} different atom orders; "
                        "write every frame's atoms in one order")
    (permutation,) = found
    return np.asarray(permutation, dtype=np.int64)


def check_atom_order(reference: FrameSet, other: FrameSet,
                     tolerance: float = DEFAULT_TOLERANCE) -> None:
    """A one-line ``DataError`` when ``other`` is ``reference``'s molecule with atoms reordered.

    The message gives the order found, so that the file can be rewritten (``other`` atom j is
    ``reference`` atom ``order[j]``).
    """
    permutation = atom_permutation(reference, other, tolerance)
    if permutation is None or np.array_equal(permutation, np.arange(len(permutation))):
        return
    moved = [f"{j}->{int(i)}" for j, i in enumerate(permutation) if j != i]
    raise DataError(
        other.source, "atom order",
        f"the same molecule as level '{reference.level}' ({reference.source}) with its atoms "
        f"reordered: on shared geometries atom j here is atom order[j] there, order = "
        f"{permutation.tolist()} (moved: {', '.join(moved)}); write the atoms in the order of "
        f"{reference.source} so that frames pair by geometry")
