"""The physics every registered backbone must obey, checked in float64 on small configurations.

Forces are exact gradients of the energy, the energy is invariant (forces equivariant) under
rotations, translations and permutations, molecules in a batch do not see each other, weights
survive a save/load round trip and the fitted shift and scale act as documented.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from models import ForceField, build_model, energy_and_forces

TOLERANCE = 1e-5


def evaluate(model: ForceField, atomic_numbers: Tensor, positions: Tensor, batch: Tensor
             ) -> tuple[Tensor, Tensor]:
    """Energies and forces without the autograd graph."""
    n_molecules = int(batch.max()) + 1
    energies, forces = energy_and_forces(model, atomic_numbers, positions.clone(), batch,
                                         n_molecules)
    return energies.detach(), forces.detach()


def assert_close(actual: Tensor, expected: Tensor) -> None:
    """Relative tolerance 1e-5, with an absolute floor at 1e-5 of the largest expected value."""
    floor = TOLERANCE * float(expected.abs().max())
    torch.testing.assert_close(actual, expected, rtol=TOLERANCE, atol=floor)


def random_rotation(generator: torch.Generator) -> Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def test_forces_are_not_trivially_zero(small_model, ethanol, batch_of):
    _, forces = evaluate(small_model, *batch_of([ethanol]))
    assert torch.all(torch.isfinite(forces))
    assert forces.abs().max() > 1e-3


def test_forces_match_central_finite_differences(small_model, ethanol, batch_of):
    atomic_numbers, positions, batch = batch_of([ethanol])
    _, forces = evaluate(small_model, atomic_numbers, positions, batch)
    step = 1e-4
    n_coordinates = positions.numel()
    # all displaced copies (+step then -step for each coordinate) evaluated as one batch
    displacements = torch.eye(n_coordinates, dtype=positions.dtype).view(-1, *positions.shape)
    displaced = torch.cat([positions + step * displacements, positions - step * displacements])
    n_copies = len(displaced)
    with torch.no_grad():
        energies = small_model(atomic_numbers.repeat(n_copies), displaced.reshape(-1, 3),
                               torch.arange(n_copies).repeat_interleave(len(positions)),
                               n_copies)
    finite_difference = -(energies[:n_coordinates] - energies[n_coordinates:]) / (2 * step)
    assert_close(forces, finite_difference.view_as(positions))


def test_energy_invariant_and_forces_equivariant_under_rotation_and_translation(
        small_model, ethanol, batch_of):
    atomic_numbers, positions, batch = batch_of([ethanol])
    energies, forces = evaluate(small_model, atomic_numbers, positions, batch)
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        rotation = random_rotation(generator)
        translation = 5.0 * torch.randn(3, generator=generator, dtype=torch.float64)
        moved_energies, moved_forces = evaluate(
            small_model, atomic_numbers, positions @ rotation.T + translation, batch)
        assert_close(moved_energies, energies)
        assert_close(moved_forces, forces @ rotation.T)


def test_energy_invariant_and_forces_equivariant_under_atom_permutation(
        small_model, ethanol, batch_of):
    atomic_numbers, positions, batch = batch_of([ethanol])
    energies, forces = evaluate(small_model, atomic_numbers, positions, batch)
    generator = torch.Generator().manual_seed(2)
    permutation = torch.randperm(len(positions), generator=generator)
    permuted_energies, permuted_forces = evaluate(
        small_model, atomic_numbers[permutation], positions[permutation], batch)
    assert_close(permuted_energies, energies)
    assert_close(permuted_forces, forces[permutation])


def test_batch_of_different_molecules_matches_each_molecule_alone(
        small_model, ethanol, methane, aspirin, batch_of):
    molecules = [ethanol, methane, aspirin, ethanol]
    batch_energies, batch_forces = evaluate(small_model, *batch_of(molecules))
    alone = [evaluate(small_model, *batch_of([molecule])) for molecule in molecules]
    assert_close(batch_energies, torch.cat([energies for energies, _ in alone]))
    assert_close(batch_forces, torch.cat([forces for _, forces in alone]))


def test_state_dict_round_trip_through_build_model_gives_identical_outputs(
        small_model, physics_case, ethanol, methane, batch_of, tmp_path: Path):
    name, hyperparameters = physics_case
    path = tmp_path / "model.pt"
    torch.save(small_model.state_dict(), path)
    rebuilt = build_model(name, small_model.hyperparameters).double()
    assert small_model.hyperparameters == hyperparameters
    rebuilt.load_state_dict(torch.load(path, weights_only=True))
    rebuilt.eval()
    inputs = batch_of([ethanol, methane])
    for expected, actual in zip(evaluate(small_model, *inputs), evaluate(rebuilt, *inputs),
                                strict=True):
        assert torch.equal(actual, expected)


def test_fit_scale_shift_recovers_element_energies_and_force_scale(
        small_model, ethanol, methane, aspirin, batch_of):
    molecules = [ethanol, methane, aspirin]
    inputs = batch_of(molecules)
    small_model.atomic_energy_shift.zero_()
    small_model.energy_scale.fill_(1.0)
    raw_energies, raw_forces = evaluate(small_model, *inputs)

    element_energy = {1: -0.5, 6: -38.0, 8: -75.0}  # kcal/mol, arbitrary
    energies = np.array([sum(element_energy[int(z)] for z in m.atomic_numbers)
                         for m in molecules])
    generator = np.random.default_rng(3)
    forces = [7.0 * generator.standard_normal((len(m.atomic_numbers), 3)) for m in molecules]
    small_model.fit_scale_shift([m.atomic_numbers for m in molecules], energies, forces)

    force_rms = np.sqrt(np.mean(np.concatenate([f.ravel() for f in forces]) ** 2))
    assert float(small_model.energy_scale) == pytest.approx(force_rms, rel=1e-12)
    for element, energy in element_energy.items():
        assert float(small_model.atomic_energy_shift[element]) == pytest.approx(energy, abs=1e-8)
    fitted_energies, fitted_forces = evaluate(small_model, *inputs)
    assert_close(fitted_energies, raw_energies * force_rms + torch.as_tensor(energies))
    assert_close(fitted_forces, raw_forces * force_rms)


def test_every_parameter_gets_a_gradient_from_a_force_loss(small_model, ethanol, methane,
                                                           batch_of):
    atomic_numbers, positions, batch = batch_of([ethanol, methane])
    small_model.train()
    energies, forces = energy_and_forces(small_model, atomic_numbers, positions, batch, 2,
                                         create_graph=True)
    loss = forces.pow(2).mean() + 1e-3 * energies.pow(2).mean()
    loss.backward()
    missing = [name for name, parameter in small_model.named_parameters()
               if parameter.grad is None or not torch.any(parameter.grad != 0)]
    assert missing == []


def test_default_dtype_is_float32(physics_case, ethanol, batch_of):
    name, hyperparameters = physics_case
    model = build_model(name, hyperparameters)
    atomic_numbers, positions, batch = batch_of([ethanol], dtype=torch.float32)
    energies, forces = evaluate(model, atomic_numbers, positions, batch)
    assert energies.dtype == forces.dtype == torch.float32
    assert torch.all(torch.isfinite(forces))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(small_model, ethanol, methane, batch_of):
    inputs = batch_of([ethanol, methane])
    expected = evaluate(small_model, *inputs)
    actual = evaluate(small_model.cuda(), *(tensor.cuda() for tensor in inputs))
    for cpu, cuda in zip(expected, actual, strict=True):
        assert_close(cuda.cpu(), cpu)
