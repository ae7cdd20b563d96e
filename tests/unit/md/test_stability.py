"""Failure criteria: bonds from covalent radii, each criterion on its own, and whole runs."""

from __future__ import annotations

import numpy as np
import torch
from md_toy import SpringModel, ethanol_start

from harness.md.calculator import ReplicaForces
from harness.md.loading import prepare_for_inference
from harness.md.runner import MDSettings, simulate
from harness.md.stability import (
    NOT_FAILED,
    FailureMonitor,
    StabilityCriteria,
    detect_bonds,
    violations,
)
from models import build_model

CRITERIA = StabilityCriteria()


def test_ethanol_has_its_eight_covalent_bonds() -> None:
    numbers, start = ethanol_start()
    bonds = detect_bonds(numbers, start, CRITERIA.bond_detection_factor)
    elements = sorted(tuple(sorted(numbers[pair])) for pair in bonds.pairs)
    assert elements == sorted([(6, 6), (6, 8), (1, 8)] + [(1, 6)] * 5)
    assert np.all((bonds.lengths > 0.9) & (bonds.lengths < 1.6))


def test_each_criterion_is_reported_on_its_own() -> None:
    numbers, start = ethanol_start()
    bonds = detect_bonds(numbers, start, CRITERIA.bond_detection_factor)
    hydroxyl_h = int(np.nonzero(numbers == 1)[0][-1])  # bonded to O in this atom order
    oxygen = int(np.nonzero(numbers == 8)[0][0])
    stretched = start.copy()  # O-H pulled to 1.6x but the molecule stays compact
    stretched[hydroxyl_h] = start[oxygen] + 1.6 * (start[hydroxyl_h] - start[oxygen])
    far = start.copy()
    far[hydroxyl_h] += np.array([8.0, 0.0, 0.0])
    broken = start.copy()
    broken[0, 0] = np.nan
    positions = torch.as_tensor(np.stack([start, stretched, far, broken]))
    too_far, overstretched = violations(positions, bonds, CRITERIA)
    assert too_far.tolist() == [False, False, True, True]
    assert overstretched.tolist() == [False, True, True, True]


def test_monitor_keeps_the_first_failing_step_of_each_criterion() -> None:
    numbers, start = ethanol_start()
    monitor = FailureMonitor(2, detect_bonds(numbers, start, 1.2), CRITERIA)
    far = start.copy()
    far[-1] += 10.0
    replicas = np.array([0, 1])
    monitor.update(replicas, torch.as_tensor(np.stack([start, start])), step=1)
    monitor.update(replicas, torch.as_tensor(np.stack([start, far])), step=2)
    monitor.update(np.array([1]), torch.as_tensor(far[None]), step=3)
    assert monitor.distance_failure_step.tolist() == [NOT_FAILED, 2]
    assert monitor.bond_failure_step.tolist() == [NOT_FAILED, 2]
    assert monitor.failed_any(replicas).tolist() == [False, True]


def run(model: torch.nn.Module, steps: int = 2000, seeds: int = 4) -> list:
    numbers, start = ethanol_start()
    settings = MDSettings(steps=steps, step_fs=0.5, seeds=tuple(range(seeds)))
    model = prepare_for_inference(model, torch.float64, "cpu")
    return simulate(ReplicaForces(model, numbers), numbers, start, settings)


def test_a_harmonic_molecule_is_stable_at_500_kelvin() -> None:
    trajectories = run(SpringModel(ethanol_start()[1]))
    assert all(trajectory.stable for trajectory in trajectories)
    assert all(trajectory.time_to_failure_ps == 1.0 for trajectory in trajectories)
    assert all(len(trajectory.times_ps) == 101 for trajectory in trajectories)  # every 10 fs


def test_an_exploding_model_fails_both_criteria_and_stops() -> None:
    trajectories = run(SpringModel(ethanol_start()[1], stiffness=-100.0))
    for trajectory in trajectories:
        assert not trajectory.stable
        assert trajectory.bond_failure_step <= trajectory.distance_failure_step < 2000
        # frames end at the first failure
        assert trajectory.times_ps[-1] <= trajectory.time_to_failure_ps


def test_a_model_with_random_weights_is_flagged_unstable() -> None:
    torch.manual_seed(0)
    trajectories = run(build_model("egnn", {"n_features": 16, "n_layers": 2}))
    assert not any(trajectory.stable for trajectory in trajectories)
    assert all(trajectory.time_to_failure_ps < 1.0 for trajectory in trajectories)
