"""The molecule an MD run starts from and the reference MD its h(r) is compared with.

Both come from one dataset level (for the embedded data: the 500 K GFN2-xTB Langevin
trajectory, level ``unlabeled``, 10,000 frames 10 fs apart): the start geometry is one of its
frames and the reference h(r) is taken over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import ConfigError
from harness.md.observables import HistogramSettings, distance_histogram

DEFAULT_REFERENCE_LEVEL = "unlabeled"


@dataclass(frozen=True)
class Reference:
    """Atomic numbers, start geometry (Angstrom) and reference h(r) (1/Angstrom)."""

    molecule: str
    atomic_numbers: np.ndarray
    start_positions: np.ndarray
    histogram: np.ndarray
    histogram_settings: HistogramSettings
    source: str


def load_reference(dataset: str | Path, level: str = DEFAULT_REFERENCE_LEVEL,
                   start_frame: int = 0,
                   histogram_settings: HistogramSettings | None = None) -> Reference:
    """Read ``level`` of ``dataset`` (any format ``harness data inspect`` reads)."""
    from harness.data.readers import load_any

    frames = load_any(dataset)[level]
    if not -len(frames) <= start_frame < len(frames):
        raise ConfigError(str(dataset), "start_frame",
                          f"{start_frame} is outside the {len(frames)} frames of level '{level}'")
    settings = histogram_settings or HistogramSettings()
    return Reference(molecule=frames.molecule, atomic_numbers=frames.atomic_numbers,
                     start_positions=frames.positions[start_frame],
                     histogram=distance_histogram(frames.positions, settings),
                     histogram_settings=settings, source=f"{dataset}:{level}")
