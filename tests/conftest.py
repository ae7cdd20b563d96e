"""Fixtures shared by every test: small synthetic FrameSets in the internal units.

``make_frames`` builds frames of an ethanol-like molecule with random but finite geometries and
labels; pass ``positions`` to build a second level on the same configurations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from harness.data.frames import FrameSet

ETHANOL_ATOMIC_NUMBERS = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])


def synthetic_frames(
    n_frames: int = 20,
    *,
    seed: int = 0,
    level: str = "synthetic",
    molecule: str = "ethanol",
    atomic_numbers: np.ndarray = ETHANOL_ATOMIC_NUMBERS,
    positions: np.ndarray | None = None,
    labelled: bool = True,
    source: str = "<synthetic>",
    seconds_per_label: float | None = None,
    temperature_K: float | None = None,
    frame_ids: np.ndarray | None = None,
) -> FrameSet:
    """Frames whose every configuration differs from the others by at least ~0.1 Angstrom."""
    rng = np.random.default_rng(seed)
    n_atoms = len(atomic_numbers)
    if positions is None:
        skeleton = 1.5 * np.arange(n_atoms * 3, dtype=float).reshape(n_atoms, 3) / n_atoms
        positions = skeleton + rng.normal(scale=0.3, size=(n_frames, n_atoms, 3))
    n_frames = len(positions)
    return FrameSet(
        molecule=molecule,
        level=level,
        atomic_numbers=atomic_numbers,
        positions=positions,
        energies=rng.normal(-1000.0, 5.0, size=n_frames) if labelled else None,
        forces=rng.normal(scale=20.0, size=(n_frames, n_atoms, 3)) if labelled else None,
        source=source,
        frame_ids=np.arange(n_frames) if frame_ids is None else frame_ids,
        seconds_per_label=seconds_per_label,
        temperature_K=temperature_K,
    )


@pytest.fixture
def make_frames() -> Callable[..., FrameSet]:
    """The factory ``synthetic_frames``, as a fixture for tests in any folder."""
    return synthetic_frames
