"""Run R seeded trajectories of one molecule and record frames, energies and failures.

Every replica starts from the same geometry with its own Maxwell-Boltzmann velocities (seeded)
and runs until ``steps`` or until both stability criteria have failed; frames (positions,
potential and kinetic energy, every ``save_interval_fs``) are kept up to the first failure of
either criterion, since a broken molecule says nothing about h(r) or energy conservation.
``simulate`` batches the replicas into one model call per step; ``simulate_with_ase`` runs the
same settings through ASE's own integrators and a ``Calculator``, one seed at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator
from pydantic import ConfigDict, Field, model_validator

from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.md.dynamics import (
    BatchedLangevin,
    ForceFunction,
    ase_dynamics,
    initial_velocities,
)
from harness.md.observables import PS_IN_FS
from harness.md.stability import NOT_FAILED, FailureMonitor, StabilityCriteria, detect_bonds
from harness.validation import Strict


class MDSettings(Strict):
    """One set of trajectories. ``friction_per_fs`` is in 1/fs (the paper: 0.002 at 500 K and
    0.5 fs); the NVE ensemble has no thermostat and ignores it."""

    model_config = ConfigDict(frozen=True)

    ensemble: Literal["langevin", "nve"] = "langevin"
    steps: int = Field(ge=1)
    step_fs: float = Field(0.5, gt=0)
    temperature_K: float = Field(500.0, gt=0)
    friction_per_fs: float = Field(0.002, gt=0)
    save_interval_fs: float = Field(10.0, gt=0)
    seeds: tuple[int, ...] = Field((0,), min_length=1)
    stability: StabilityCriteria = Field(default_factory=StabilityCriteria)

    @model_validator(mode="after")
    def _distinct_seeds(self) -> MDSettings:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        return self

    @property
    def effective_friction_per_fs(self) -> float:
        return self.friction_per_fs if self.ensemble == "langevin" else 0.0

    @property
    def save_every(self) -> int:
        """Steps between saved frames."""
        return max(1, round(self.save_interval_fs / self.step_fs))

    @property
    def duration_ps(self) -> float:
        return self.steps * self.step_fs / PS_IN_FS


@dataclass
class Trajectory:
    """One seeded trajectory. Energies in kcal/mol, times in ps, positions in Angstrom.

    ``*_failure_step`` is the first step at which each criterion failed (None: never);
    ``steps_per_second`` is the wall speed of the batch the trajectory ran in.
    """

    seed: int
    settings: MDSettings
    distance_failure_step: int | None
    bond_failure_step: int | None
    times_ps: np.ndarray
    positions: np.ndarray
    potential_energies: np.ndarray
    kinetic_energies: np.ndarray
    steps_per_second: float
    replicas_in_batch: int

    @property
    def stable(self) -> bool:
        return self.distance_failure_step is None and self.bond_failure_step is None

    @property
    def first_failure_step(self) -> int | None:
        steps = [step for step in (self.distance_failure_step, self.bond_failure_step)
                 if step is not None]
        return min(steps) if steps else None

    @property
    def time_to_failure_ps(self) -> float:
        """Time of the first failure; the whole duration when stable (a censored value)."""
        step = self.first_failure_step
        if step is None:
            return self.settings.duration_ps
        return step * self.settings.step_fs / PS_IN_FS

    @property
    def total_energies(self) -> np.ndarray:
        return self.potential_energies + self.kinetic_energies


class _FrameRecorder:
    """Saved frames of one replica, in the harness's units."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.positions: list[np.ndarray] = []
        self.potential: list[float] = []
        self.kinetic: list[float] = []

    def add(self, time_ps: float, positions: np.ndarray, potential_ev: float,
            kinetic_ev: float) -> None:
        self.times.append(time_ps)
        self.positions.append(np.asarray(positions, dtype=np.float64))
        self.potential.append(potential_ev / KCAL_PER_MOL_IN_EV)
        self.kinetic.append(kinetic_ev / KCAL_PER_MOL_IN_EV)

    def arrays(self, n_atoms: int) -> dict[str, np.ndarray]:
        positions = (np.stack(self.positions) if self.positions
                     else np.zeros((0, n_atoms, 3)))
        return {"times_ps": np.asarray(self.times), "positions": positions,
                "potential_energies": np.asarray(self.potential),
                "kinetic_energies": np.asarray(self.kinetic)}


def _step_or_none(value: int) -> int | None:
    return None if value == NOT_FAILED else int(value)


def _trajectories(settings: MDSettings, monitor: FailureMonitor,
                  recorders: list[_FrameRecorder], n_atoms: int, steps_per_second: float,
                  replicas_in_batch: int) -> list[Trajectory]:
    return [Trajectory(seed=seed, settings=settings,
                       distance_failure_step=_step_or_none(monitor.distance_failure_step[index]),
                       bond_failure_step=_step_or_none(monitor.bond_failure_step[index]),
                       steps_per_second=steps_per_second, replicas_in_batch=replicas_in_batch,
                       **recorders[index].arrays(n_atoms))
            for index, seed in enumerate(settings.seeds)]


def simulate(forces: ForceFunction, atomic_numbers: np.ndarray, start_positions: np.ndarray,
             settings: MDSettings, device: str | torch.device = "cpu") -> list[Trajectory]:
    """All seeds of ``settings`` in one batch (one force call per step); float64 state."""
    atoms = Atoms(numbers=atomic_numbers, positions=start_positions)
    rngs = [np.random.default_rng(seed) for seed in settings.seeds]
    velocities = np.stack([initial_velocities(atomic_numbers, start_positions,
                                              settings.temperature_K, rng) for rng in rngs])
    n_replicas, n_atoms = len(rngs), len(atomic_numbers)
    positions = torch.as_tensor(np.repeat(start_positions[None], n_replicas, axis=0),
                                dtype=torch.float64, device=device)
    integrator = BatchedLangevin(forces, atoms.get_masses(), positions,
                                 torch.as_tensor(velocities, device=device), settings.step_fs,
                                 settings.temperature_K, settings.effective_friction_per_fs, rngs)
    monitor = FailureMonitor(n_replicas, detect_bonds(atomic_numbers, start_positions,
                                                      settings.stability.bond_detection_factor),
                             settings.stability)
    recorders = [_FrameRecorder() for _ in range(n_replicas)]
    active = np.arange(n_replicas)

    def record(step: int) -> None:
        potential = integrator.potential_energies.cpu().numpy()
        kinetic = integrator.kinetic_energies().cpu().numpy()
        positions = integrator.positions.cpu().numpy()
        saved = ~monitor.failed_any(active)
        for slot in np.nonzero(saved)[0]:
            recorders[active[slot]].add(step * settings.step_fs / PS_IN_FS, positions[slot],
                                        potential[slot], kinetic[slot])

    record(0)
    started, steps_run = time.perf_counter(), 0
    for step in range(1, settings.steps + 1):
        integrator.step()
        steps_run = step
        monitor.update(active, integrator.positions, step)
        if step % settings.save_every == 0:
            record(step)
        finished = monitor.failed_both(active)
        if finished.any():
            integrator.keep(torch.as_tensor(~finished, device=integrator.positions.device))
            active = active[~finished]
            if len(active) == 0:
                break
    speed = steps_run / max(time.perf_counter() - started, 1e-12)
    return _trajectories(settings, monitor, recorders, n_atoms, speed, n_replicas)


def simulate_with_ase(calculator: Calculator, atomic_numbers: np.ndarray,
                      start_positions: np.ndarray, settings: MDSettings) -> list[Trajectory]:
    """The same trajectories through ASE's Langevin / VelocityVerlet, one seed at a time."""
    return [_one_seed_with_ase(calculator, atomic_numbers, start_positions,
                               settings.model_copy(update={"seeds": (seed,)}))
            for seed in settings.seeds]


def _one_seed_with_ase(calculator: Calculator, atomic_numbers: np.ndarray,
                       start_positions: np.ndarray, settings: MDSettings) -> Trajectory:
    rng = np.random.default_rng(settings.seeds[0])
    atoms = Atoms(numbers=atomic_numbers, positions=start_positions, calculator=calculator)
    atoms.set_velocities(initial_velocities(atomic_numbers, start_positions,
                                            settings.temperature_K, rng))
    dynamics = ase_dynamics(atoms, settings.step_fs, settings.temperature_K,
                            settings.effective_friction_per_fs, rng)
    monitor = FailureMonitor(1, detect_bonds(atomic_numbers, start_positions,
                                             settings.stability.bond_detection_factor),
                             settings.stability)
    recorder = _FrameRecorder()
    replica = np.zeros(1, dtype=np.int64)

    def record(step: int) -> None:
        if not monitor.failed_any(replica)[0]:
            recorder.add(step * settings.step_fs / PS_IN_FS, atoms.get_positions(),
                         atoms.get_potential_energy(), atoms.get_kinetic_energy())

    record(0)
    started, steps_run = time.perf_counter(), 0
    for step in range(1, settings.steps + 1):
        dynamics.run(1)
        steps_run = step
        monitor.update(replica, torch.as_tensor(atoms.get_positions()[None]), step)
        if step % settings.save_every == 0:
            record(step)
        if monitor.failed_both(replica)[0]:
            break
    speed = steps_run / max(time.perf_counter() - started, 1e-12)
    return _trajectories(settings, monitor, [recorder], len(atomic_numbers), speed, 1)[0]
