"""Langevin and NVE integration, in ASE's units, for R replicas at once or through ASE itself.

Units: positions Angstrom, velocities Angstrom per ASE time unit, energies eV, masses amu.
Step sizes are given in fs and friction in 1/fs (the paper's 0.002 is per fs); ASE wants both
in its own time unit (about 10.18 fs), so the conversions below are the only place they change.

``BatchedLangevin`` is ASE's Langevin propagator (Vanden-Eijnden and Ciccotti 2006, Eq. 23, as
``ase.md.langevin.Langevin`` with ``fixcm=False``) applied to R replicas with one force call per
step. Each replica draws its noise from its own numpy generator in the order ASE does (xi, then
eta), so a replica seeded like an ASE run follows the same trajectory, whatever else is in the
batch. With friction 0 the propagator is velocity Verlet (NVE).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.md import MolecularDynamics
from ase.md.velocitydistribution import Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet
from torch import Tensor

# Energies (R,) in eV and forces (R, n_atoms, 3) in eV/Angstrom at positions (R, n_atoms, 3).
ForceFunction = Callable[[Tensor], tuple[Tensor, Tensor]]


def timestep_in_ase_units(step_fs: float) -> float:
    return step_fs * units.fs


def friction_in_ase_units(friction_per_fs: float) -> float:
    """ASE's Langevin takes friction in inverse ASE time units: 0.002 / fs is 0.002 / units.fs."""
    return friction_per_fs / units.fs


def initial_velocities(atomic_numbers: np.ndarray, positions: np.ndarray, temperature_K: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Maxwell-Boltzmann velocities (n_atoms, 3) at ``temperature_K``, without centre-of-mass
    motion or rigid rotation (both removed at constant kinetic temperature).

    Momenta are sqrt(m kT) times one (n_atoms, 3) standard-normal draw from ``rng``, as ASE's
    Maxwell-Boltzmann functions draw them.
    """
    atoms = Atoms(numbers=atomic_numbers, positions=positions)
    masses = atoms.get_masses()
    draws = rng.standard_normal(size=(len(masses), 3))
    atoms.set_momenta(draws * np.sqrt(masses * units.kB * temperature_K)[:, None])
    Stationary(atoms)
    ZeroRotation(atoms)
    return atoms.get_velocities()


class BatchedLangevin:
    """R replicas of one molecule advanced together, state in float64 ASE units.

    ``rngs`` holds one generator per replica; ``keep`` drops replicas (failed ones) so that the
    model stops paying for them.
    """

    def __init__(self, forces: ForceFunction, masses: np.ndarray, positions: Tensor,
                 velocities: Tensor, step_fs: float, temperature_K: float,
                 friction_per_fs: float, rngs: list[np.random.Generator]) -> None:
        if len(rngs) != positions.shape[0]:
            raise ValueError(f"{len(rngs)} generators for {positions.shape[0]} replicas")
        self.force_function = forces
        self.positions = positions.to(torch.float64).clone()
        self.velocities = velocities.to(self.positions).clone()
        self.masses = torch.as_tensor(masses, dtype=torch.float64,
                                      device=self.positions.device).reshape(-1, 1)
        self.rngs = list(rngs)
        self.stochastic = friction_per_fs > 0
        self._set_coefficients(timestep_in_ase_units(step_fs), units.kB * temperature_K,
                               friction_in_ase_units(friction_per_fs))
        self.potential_energies, self.forces = self.force_function(self.positions)

    def _set_coefficients(self, dt: float, kT: float, friction: float) -> None:
        """ASE's c1..c5 (Langevin.updatevars); per atom where they depend on the mass."""
        sigma = torch.sqrt(2.0 * kT * friction / self.masses)
        self.dt = dt
        self.c1 = dt / 2.0 - dt * dt * friction / 8.0
        self.c2 = dt * friction / 2.0 - dt * dt * friction * friction / 8.0
        self.c3 = np.sqrt(dt) * sigma / 2.0 - dt**1.5 * friction * sigma / 8.0
        self.c5 = dt**1.5 * sigma / (2.0 * np.sqrt(3.0))
        self.c4 = friction / 2.0 * self.c5

    @property
    def n_replicas(self) -> int:
        return self.positions.shape[0]

    def _noise(self) -> tuple[Tensor, Tensor]:
        shape = tuple(self.positions.shape[1:])
        draws = [(rng.standard_normal(size=shape), rng.standard_normal(size=shape))
                 for rng in self.rngs]
        xi = torch.as_tensor(np.stack([pair[0] for pair in draws])).to(self.positions)
        eta = torch.as_tensor(np.stack([pair[1] for pair in draws])).to(self.positions)
        return xi, eta

    def step(self) -> None:
        """One step of ``dt``: half kick, drift, new forces, half kick (with friction and noise)."""
        random_position = random_velocity = 0.0
        if self.stochastic:
            xi, eta = self._noise()
            random_position = self.c5 * eta
            random_velocity = self.c3 * xi - self.c4 * eta
        acceleration = self.forces / self.masses
        self.velocities += self.c1 * acceleration - self.c2 * self.velocities + random_velocity
        self.positions = self.positions + self.dt * self.velocities + random_position
        self.potential_energies, self.forces = self.force_function(self.positions)
        acceleration = self.forces / self.masses
        self.velocities += self.c1 * acceleration - self.c2 * self.velocities + random_velocity

    def kinetic_energies(self) -> Tensor:
        """Per replica, eV."""
        return 0.5 * (self.masses * self.velocities.square()).sum(dim=(1, 2))

    def keep(self, replicas: Tensor) -> None:
        """Continue with the replicas whose mask entry is True, in their order."""
        indices = torch.nonzero(replicas, as_tuple=True)[0]
        self.positions, self.velocities = self.positions[indices], self.velocities[indices]
        self.forces = self.forces[indices]
        self.potential_energies = self.potential_energies[indices]
        self.rngs = [self.rngs[int(index)] for index in indices]


def ase_dynamics(atoms: Atoms, step_fs: float, temperature_K: float, friction_per_fs: float,
                 rng: np.random.Generator) -> MolecularDynamics:
    """ASE's own integrator with the same settings: Langevin (no centre-of-mass fix), or
    VelocityVerlet when the friction is 0 (NVE)."""
    timestep = timestep_in_ase_units(step_fs)
    if friction_per_fs == 0:
        return VelocityVerlet(atoms, timestep=timestep)
    return Langevin(atoms, timestep=timestep, temperature_K=temperature_K,
                    friction=friction_in_ase_units(friction_per_fs), fixcm=False, rng=rng)
