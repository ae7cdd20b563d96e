"""Integrators: unit conversions, and the batched propagator equals ASE's step for step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms, units
from md_toy import SpringModel, ethanol_start

from harness.md.calculator import ForceFieldCalculator, ReplicaForces
from harness.md.dynamics import (
    BatchedLangevin,
    ase_dynamics,
    friction_in_ase_units,
    initial_velocities,
    timestep_in_ase_units,
)
from harness.md.observables import kinetic_temperature_K
from harness.md.runner import MDSettings, simulate
from models import build_model


def free_forces(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return positions.new_zeros(positions.shape[0]), torch.zeros_like(positions)


def test_friction_and_step_are_converted_from_per_fs_to_ase_time() -> None:
    assert friction_in_ase_units(0.002) * units.fs == pytest.approx(0.002)
    assert timestep_in_ase_units(0.5) / units.fs == pytest.approx(0.5)
    assert units.fs == pytest.approx(0.0982269, rel=1e-5)  # one ASE time unit is ~10.18 fs


@pytest.mark.parametrize("engine", ["batched", "ase"])
def test_friction_per_fs_damps_a_free_particle_as_exp_minus_gamma_t(engine: str) -> None:
    """At 0 K and no force, v(t) = v0 exp(-gamma t): 0.002/fs over 1 ps leaves exp(-2)."""
    numbers, positions = np.array([1]), np.zeros((1, 3))
    start = np.array([[0.01, 0.0, 0.0]])  # Angstrom per ASE time unit
    step_fs, steps, friction = 0.5, 2000, 0.002
    if engine == "batched":
        integrator = BatchedLangevin(free_forces, np.array([1.008]),
                                     torch.as_tensor(positions[None]),
                                     torch.as_tensor(start[None]), step_fs, 0.0, friction,
                                     [np.random.default_rng(0)])
        for _ in range(steps):
            integrator.step()
        final = integrator.velocities[0].numpy()
    else:
        atoms = Atoms(numbers=numbers, positions=positions)
        atoms.calc = ForceFieldCalculator(SpringModel(np.zeros((1, 3))))
        atoms.set_velocities(start)
        ase_dynamics(atoms, step_fs, 0.0, friction, np.random.default_rng(0)).run(steps)
        final = atoms.get_velocities()
    assert final[0, 0] / start[0, 0] == pytest.approx(np.exp(-friction * step_fs * steps),
                                                      rel=1e-3)


def run_both(model: torch.nn.Module, seeds: list[int], friction_per_fs: float, steps: int
             ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Final positions of each seed: batched together, and each through ASE's integrator."""
    numbers, start = ethanol_start()
    masses = Atoms(numbers=numbers).get_masses()
    rngs = [np.random.default_rng(seed) for seed in seeds]
    velocities = np.stack([initial_velocities(numbers, start, 500.0, rng) for rng in rngs])
    integrator = BatchedLangevin(ReplicaForces(model, numbers), masses,
                                 torch.as_tensor(np.repeat(start[None], len(seeds), axis=0)),
                                 torch.as_tensor(velocities), 0.5, 500.0, friction_per_fs, rngs)
    for _ in range(steps):
        integrator.step()
    ase_positions = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        atoms = Atoms(numbers=numbers, positions=start, calculator=ForceFieldCalculator(model))
        atoms.set_velocities(initial_velocities(numbers, start, 500.0, rng))
        ase_dynamics(atoms, 0.5, 500.0, friction_per_fs, rng).run(steps)
        ase_positions.append(atoms.get_positions())
    return integrator.positions.numpy(), ase_positions


def tiny_egnn() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("egnn", {"n_features": 16, "n_layers": 2})
    model.energy_scale.fill_(0.05)  # gentle enough to stay together for the steps compared
    return model.double()


def test_zero_friction_is_ase_velocity_verlet() -> None:
    batched, ase = run_both(tiny_egnn(), [0], friction_per_fs=0.0, steps=100)
    assert np.abs(batched[0] - ase[0]).max() < 1e-10
    assert np.abs(batched[0] - ethanol_start()[1]).max() > 0.05  # the atoms did move


def test_each_batched_replica_follows_ase_langevin_with_the_same_seed() -> None:
    batched, ase = run_both(tiny_egnn(), [0, 1, 2], friction_per_fs=0.002, steps=100)
    for replica in range(3):
        assert np.abs(batched[replica] - ase[replica]).max() < 1e-9
    assert np.abs(batched[0] - batched[1]).max() > 1e-3  # seeds give different trajectories


def test_langevin_holds_the_target_temperature() -> None:
    numbers, start = ethanol_start()
    settings = MDSettings(steps=2000, step_fs=1.0, temperature_K=500.0, friction_per_fs=0.05,
                          save_interval_fs=5.0, seeds=tuple(range(8)))
    model = SpringModel(start).double().requires_grad_(False)
    trajectories = simulate(ReplicaForces(model, numbers), numbers, start, settings)
    kinetic = np.concatenate([trajectory.kinetic_energies[50:] for trajectory in trajectories])
    assert np.mean(kinetic_temperature_K(kinetic, len(numbers))) == pytest.approx(500.0,
                                                                                  rel=0.06)
