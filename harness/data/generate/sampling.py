"""Boltzmann sampling of configurations: Langevin MD with GFN2-xTB through ASE.

The frames double as unlabeled samples from the Boltzmann distribution at ``temperature_K``
for score matching, so the temperature is stored with them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
from tqdm import tqdm


@dataclass(frozen=True)
class SamplingSettings:
    """Langevin settings; friction is per femtosecond (converted to ASE units below)."""

    temperature_K: float = 500.0
    timestep_fs: float = 0.5
    friction_per_fs: float = 0.01
    equilibration_steps: int = 2000
    steps_between_frames: int = 20
    n_frames: int = 10_000
    seed: int = 0


@dataclass(frozen=True)
class Trajectory:
    atomic_numbers: np.ndarray
    positions: np.ndarray  # (n_frames, n_atoms, 3), Angstrom
    settings: SamplingSettings
    cpu_seconds_per_frame: float  # sampling cost of one decorrelated frame


def run_langevin(atomic_numbers: np.ndarray, start_positions: np.ndarray,
                 settings: SamplingSettings, progress: bool = True) -> Trajectory:
    """Langevin MD with GFN2-xTB (tblite); one frame every ``steps_between_frames`` steps."""
    from tblite.ase import TBLite

    atoms = Atoms(numbers=atomic_numbers, positions=start_positions)
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    rng = np.random.default_rng(settings.seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=settings.temperature_K, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    dynamics = Langevin(
        atoms,
        timestep=settings.timestep_fs * units.fs,
        temperature_K=settings.temperature_K,
        friction=settings.friction_per_fs / units.fs,
        rng=rng,
    )
    dynamics.run(settings.equilibration_steps)
    frames = np.empty((settings.n_frames, len(atomic_numbers), 3))
    cpu_start = time.process_time()
    for index in tqdm(range(settings.n_frames), desc="xTB Langevin", disable=not progress):
        dynamics.run(settings.steps_between_frames)
        frames[index] = atoms.get_positions()
    cpu_seconds = time.process_time() - cpu_start
    return Trajectory(
        atomic_numbers=np.asarray(atomic_numbers),
        positions=frames,
        settings=settings,
        cpu_seconds_per_frame=cpu_seconds / settings.n_frames,
    )
