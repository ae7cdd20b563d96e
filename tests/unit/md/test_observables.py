"""h(r), its error against a reference, NVE drift and kinetic temperature, on known inputs."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from md_toy import ethanol_start

from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.md.dynamics import initial_velocities
from harness.md.observables import (
    HistogramSettings,
    distance_histogram,
    energy_drift_per_atom_per_ps,
    hr_mae,
    kinetic_temperature_K,
)

SETTINGS = HistogramSettings(r_max_A=6.0, n_bins=60)


def test_h_of_r_is_a_density_over_all_pairs() -> None:
    frames = np.random.default_rng(0).uniform(0, 2.0, size=(50, 5, 3))
    histogram = distance_histogram(frames, SETTINGS)
    assert histogram.sum() * SETTINGS.bin_width_A == pytest.approx(1.0)
    two_atoms = np.array([[[0.0, 0.0, 0.0], [1.05, 0.0, 0.0]]])
    peak = distance_histogram(two_atoms, SETTINGS)
    assert np.argmax(peak) == 10 and peak.max() == pytest.approx(1 / SETTINGS.bin_width_A)


def test_h_of_r_error_is_zero_for_the_same_and_two_for_disjoint_distributions() -> None:
    short = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    long = np.array([[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]]])
    reference = distance_histogram(short, SETTINGS)
    assert hr_mae(distance_histogram(short, SETTINGS), reference, SETTINGS) == 0.0
    assert hr_mae(distance_histogram(long, SETTINGS), reference, SETTINGS) == pytest.approx(2.0)


def test_drift_is_the_fitted_slope_per_atom() -> None:
    times = np.linspace(0.0, 2.0, 101)
    energies = -50.0 - 0.9 * times + 0.01 * np.sin(40 * times)
    assert energy_drift_per_atom_per_ps(times, energies, n_atoms=9) == pytest.approx(0.1,
                                                                                     rel=0.02)
    assert np.isnan(energy_drift_per_atom_per_ps(times[:1], energies[:1], n_atoms=9))


def test_initial_velocities_are_thermal_without_drift_or_rotation() -> None:
    numbers, start = ethanol_start()
    masses = Atoms(numbers=numbers).get_masses()
    kinetic, momenta = [], []
    for seed in range(400):
        velocities = initial_velocities(numbers, start, 500.0, np.random.default_rng(seed))
        atoms = Atoms(numbers=numbers, positions=start, velocities=velocities)
        momenta.append(atoms.get_momenta().sum(axis=0))
        assert np.abs(atoms.get_angular_momentum()).max() < 1e-10
        kinetic.append(0.5 * (masses[:, None] * velocities**2).sum() / KCAL_PER_MOL_IN_EV)
    assert np.abs(momenta).max() < 1e-10
    temperature = kinetic_temperature_K(np.array(kinetic), len(numbers))
    assert temperature.mean() == pytest.approx(500.0, rel=0.05)
    assert units.kB * 500.0 == pytest.approx(0.0430867, rel=1e-5)  # eV, the thermal energy
