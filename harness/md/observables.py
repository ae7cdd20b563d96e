"""What a trajectory is measured by: h(r) against a reference, NVE energy drift, temperature.

h(r) (Fu et al. 2022, "Forces are not enough") is the distribution of all interatomic
distances over a trajectory: a histogram on [0, r_max] Angstrom normalised by the number of
pairs and the bin width, so that it integrates to 1 when every distance is below r_max. Its
error is the integral of |h - h_ref| over r (dimensionless, between 0 and 2).
"""

from __future__ import annotations

import numpy as np
from ase.units import kB
from pydantic import ConfigDict, Field

from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.validation import Strict

PS_IN_FS = 1000.0


class HistogramSettings(Strict):
    """Range (Angstrom) and resolution of h(r). r_max should exceed the stability threshold,
    so that every distance of a frame that passed it falls inside the range."""

    model_config = ConfigDict(frozen=True)

    r_max_A: float = Field(6.0, gt=0)
    n_bins: int = Field(300, ge=1)

    @property
    def bin_width_A(self) -> float:
        return self.r_max_A / self.n_bins


def distance_histogram(positions: np.ndarray, settings: HistogramSettings) -> np.ndarray:
    """h(r) in 1/Angstrom, shape (n_bins,), of frames (n_frames, n_atoms, 3); NaN if no frames."""
    n_atoms = positions.shape[1]
    first, second = np.triu_indices(n_atoms, k=1)
    distances = np.linalg.norm(positions[:, first] - positions[:, second], axis=-1).reshape(-1)
    if len(distances) == 0:
        return np.full(settings.n_bins, np.nan)
    counts, _ = np.histogram(distances, bins=settings.n_bins, range=(0.0, settings.r_max_A))
    return counts / (len(distances) * settings.bin_width_A)


def hr_mae(histogram: np.ndarray, reference: np.ndarray,
                    settings: HistogramSettings) -> float:
    """Integral over r of |h(r) - h_ref(r)| (dimensionless; 0 is a perfect match)."""
    return float(np.abs(histogram - reference).sum() * settings.bin_width_A)


def energy_drift_per_atom_per_ps(times_ps: np.ndarray, total_energies: np.ndarray,
                                 n_atoms: int) -> float:
    """|slope| of a least-squares line through the total energy, per atom, in kcal/mol/atom/ps.

    NaN with fewer than two frames (e.g. a trajectory that failed at once).
    """
    if len(times_ps) < 2:
        return float("nan")
    slope = np.polyfit(np.asarray(times_ps, dtype=np.float64),
                       np.asarray(total_energies, dtype=np.float64), 1)[0]
    return float(abs(slope) / n_atoms)


def kinetic_temperature_K(kinetic_energies: np.ndarray, n_atoms: int) -> np.ndarray:
    """Instantaneous temperature from kinetic energies in kcal/mol, with 3 n_atoms degrees of
    freedom (Langevin noise thermalises the centre of mass and rotations too)."""
    return 2.0 * np.asarray(kinetic_energies) * KCAL_PER_MOL_IN_EV / (3 * n_atoms * kB)
