"""Whole trajectories: the batched and ASE engines agree, seeds are independent of batching,
NVE conserves energy, and settings are validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from md_toy import SpringModel, ethanol_start
from pydantic import ValidationError

from harness.md.calculator import ForceFieldCalculator, ReplicaForces
from harness.md.loading import prepare_for_inference
from harness.md.observables import energy_drift_per_atom_per_ps
from harness.md.runner import MDSettings, simulate, simulate_with_ase
from models import build_model


def random_egnn() -> torch.nn.Module:
    torch.manual_seed(1)
    return prepare_for_inference(build_model("egnn", {"n_features": 16, "n_layers": 2}),
                                 torch.float64, "cpu")


def test_batched_and_ase_engines_give_the_same_trajectories_and_failures() -> None:
    numbers, start = ethanol_start()
    model = random_egnn()
    settings = MDSettings(steps=300, step_fs=0.5, save_interval_fs=2.0, seeds=(0, 5))
    batched = simulate(ReplicaForces(model, numbers), numbers, start, settings)
    ase = simulate_with_ase(ForceFieldCalculator(model), numbers, start, settings)
    for ours, theirs in zip(batched, ase, strict=True):
        assert ours.seed == theirs.seed
        assert ours.distance_failure_step == theirs.distance_failure_step is not None
        assert ours.bond_failure_step == theirs.bond_failure_step is not None
        assert np.allclose(ours.positions, theirs.positions, rtol=0, atol=1e-9)
        assert np.allclose(ours.total_energies, theirs.total_energies, rtol=1e-9)


def test_a_seed_follows_the_same_path_alone_or_in_a_batch() -> None:
    numbers, start = ethanol_start()
    model = prepare_for_inference(SpringModel(start), torch.float64, "cpu")
    forces = ReplicaForces(model, numbers)
    alone = simulate(forces, numbers, start, MDSettings(steps=400, seeds=(2,)))[0]
    batch = simulate(forces, numbers, start, MDSettings(steps=400, seeds=(0, 1, 2)))
    assert batch[2].seed == 2 and batch[2].replicas_in_batch == 3
    assert np.allclose(alone.positions, batch[2].positions, rtol=0, atol=1e-9)
    assert not np.allclose(batch[0].positions, batch[2].positions)


def test_nve_conserves_the_energy_of_a_smooth_model_in_float64() -> None:
    numbers, start = ethanol_start()
    model = prepare_for_inference(SpringModel(start), torch.float64, "cpu")
    settings = MDSettings(ensemble="nve", steps=4000, step_fs=0.25, save_interval_fs=5.0,
                          seeds=(0, 1))
    for trajectory in simulate(ReplicaForces(model, numbers), numbers, start, settings):
        assert trajectory.stable
        energy = trajectory.total_energies
        kinetic_scale = trajectory.kinetic_energies.mean()
        assert np.ptp(energy) < 0.02 * kinetic_scale  # measured: 0.005 of it
        drift = energy_drift_per_atom_per_ps(trajectory.times_ps, energy, len(numbers))
        assert drift < 1e-3  # kcal/mol/atom/ps; measured: below 1e-4


def test_settings_reject_what_cannot_be_run() -> None:
    with pytest.raises(ValidationError, match="distinct"):
        MDSettings(steps=10, seeds=(1, 1))
    with pytest.raises(ValidationError, match="friction_per_fs"):
        MDSettings(steps=10, friction_per_fs=0.0)
    with pytest.raises(ValidationError, match="steps"):
        MDSettings(steps=0)
    settings = MDSettings(steps=10, ensemble="nve", step_fs=4.0, save_interval_fs=10.0)
    assert settings.effective_friction_per_fs == 0.0 and settings.save_every == 2
