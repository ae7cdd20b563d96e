from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from train_toy import QuadraticModel, toy_frames

from harness.train.batching import frames_to_graphs
from harness.train.losses import BOLTZMANN_KCAL_PER_MOL_K, SlicedScoreMatchingLoss, SupervisedLoss
from models.base import energy_and_forces


def toy_batch(n_frames: int = 4, weights: np.ndarray | None = None, seed: int = 0) -> Batch:
    graphs = frames_to_graphs(toy_frames(n_frames, seed), weights, dtype=torch.float64)
    return Batch.from_data_list(graphs)


def separate_errors(model: QuadraticModel, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    energies, forces = energy_and_forces(model, batch.z, batch.pos.clone(), batch.batch,
                                         batch.num_graphs)
    return forces.detach() - batch.forces, energies.detach() - batch.energy


@pytest.mark.parametrize("kind", ["mae", "mse"])
def test_rho_mixes_force_and_energy_terms(quadratic_model: QuadraticModel, kind: str) -> None:
    batch = toy_batch()
    force_error, energy_error = separate_errors(quadratic_model, batch)
    reduce = (lambda e: e.abs().mean()) if kind == "mae" else (lambda e: e.square().mean())
    for rho in (0.0, 0.001, 0.3, 1.0):
        loss = SupervisedLoss(rho=rho, force_loss=kind, energy_loss=kind)(
            quadratic_model, batch, create_graph=False)
        expected = (1 - rho) * reduce(force_error) + rho * reduce(energy_error)
        assert float(loss) == pytest.approx(float(expected), rel=1e-12)


def test_mae_and_mse_differ_as_defined(quadratic_model: QuadraticModel) -> None:
    batch = toy_batch()
    force_error, _ = separate_errors(quadratic_model, batch)
    mae = SupervisedLoss(rho=0.0, force_loss="mae")(quadratic_model, batch, create_graph=False)
    mse = SupervisedLoss(rho=0.0, force_loss="mse")(quadratic_model, batch, create_graph=False)
    assert float(mae) == pytest.approx(float(force_error.abs().mean()))
    assert float(mse) == pytest.approx(float(force_error.square().mean()))


def gradient(model: QuadraticModel, loss: SupervisedLoss, batch: Batch) -> torch.Tensor:
    model.zero_grad()
    loss(model, batch).backward()
    return model.curvature.grad.clone()


def test_zero_weight_frame_contributes_no_gradient(quadratic_model: QuadraticModel) -> None:
    """Stage 2's loss really uses the weights (the authors' code ran unweighted)."""
    weights = np.array([1.0, 0.3, 0.0, 1.0])
    loss = SupervisedLoss(rho=0.01)
    batch = toy_batch(weights=weights)
    relabelled = batch.clone()
    relabelled.forces[relabelled.batch == 2] += 1000.0
    relabelled.energy[2] += 1e5
    assert torch.equal(gradient(quadratic_model, loss, batch),
                       gradient(quadratic_model, loss, relabelled))
    uniform = toy_batch()
    assert not torch.allclose(gradient(quadratic_model, loss, batch),
                              gradient(quadratic_model, loss, uniform))


def test_weighted_mean_gradient_equals_gradient_without_the_zero_weight_frame(
        quadratic_model: QuadraticModel) -> None:
    frames = toy_frames(4)
    loss = SupervisedLoss(rho=0.01, weight_normalisation="weighted_mean")
    with_frame = Batch.from_data_list(frames_to_graphs(frames, np.array([1.0, 1.0, 0.0, 1.0]),
                                                       dtype=torch.float64))
    without = Batch.from_data_list(frames_to_graphs(frames.subset([0, 1, 3]),
                                                    dtype=torch.float64))
    assert torch.allclose(gradient(quadratic_model, loss, with_frame),
                          gradient(quadratic_model, loss, without), rtol=1e-12)


def test_mean_normalisation_is_eq2_divided_by_frames(quadratic_model: QuadraticModel) -> None:
    weights = np.array([0.2, 0.5, 0.9, 0.0])
    batch = toy_batch(weights=weights)
    per_frame = [SupervisedLoss(rho=0.1)(quadratic_model, Batch.from_data_list([graph]),
                                         create_graph=False)
                 for graph in frames_to_graphs(toy_frames(4), dtype=torch.float64)]
    expected = sum(w * float(term) for w, term in zip(weights, per_frame, strict=True)) / 4
    assert float(SupervisedLoss(rho=0.1)(quadratic_model, batch, create_graph=False)) \
        == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("normalisation", ["mean", "weighted_mean"])
def test_per_atom_weights_weigh_each_force_term_and_the_energy_by_their_mean(
        quadratic_model: QuadraticModel, normalisation: str) -> None:
    """By hand: sum_j [(1-rho) mean_i w_ji mean_c e_jic^2 + rho mean_i w_ji e_j^2] / norm."""
    rng = np.random.default_rng(3)
    atom_weights = rng.uniform(0.0, 1.0, (3, 4))
    batch = Batch.from_data_list(frames_to_graphs(toy_frames(3), atom_weights,
                                                  dtype=torch.float64))
    force_error, energy_error = separate_errors(quadratic_model, batch)
    atom_terms = force_error.square().mean(dim=-1).numpy().reshape(3, 4)
    frame_weights = atom_weights.mean(axis=1)
    rho = 0.2
    total = ((1 - rho) * (atom_weights * atom_terms).mean(axis=1)
             + rho * frame_weights * energy_error.square().numpy()).sum()
    norm = 3 if normalisation == "mean" else frame_weights.sum()
    loss = SupervisedLoss(rho=rho, weight_normalisation=normalisation)(
        quadratic_model, batch, create_graph=False)
    assert float(loss) == pytest.approx(total / norm, rel=1e-12)


@pytest.mark.parametrize("projection", ["rademacher", "gaussian"])
def test_sliced_score_matching_of_a_harmonic_model(quadratic_model: QuadraticModel,
                                                   projection: str) -> None:
    """E = a |x|^2: F = -2a x, Tr(dF/dx) = -6a per atom; Rademacher slices are exact here."""
    torch.manual_seed(0)
    batch = toy_batch(3)
    loss = SlicedScoreMatchingLoss(temperature_K=500.0, n_projections=4000 if projection ==
                                   "gaussian" else 1, projection=projection)
    a = float(quadratic_model.curvature)
    n_atoms = batch.pos.shape[0] // 3
    thermal = BOLTZMANN_KCAL_PER_MOL_K * 500.0
    expected = thermal * (-6 * a * n_atoms) + 0.5 * float((2 * a * batch.pos).square().sum()) / 3
    tolerance = 1e-12 if projection == "rademacher" else 0.05
    assert float(loss(quadratic_model, batch)) == pytest.approx(expected, rel=tolerance)


def test_score_matching_minimiser_is_the_boltzmann_force_constant() -> None:
    """Frames of exp(-E0/kT) with E0 = a0 |x|^2: the loss over a is smallest at a = a0."""
    temperature, a0 = 300.0, 2.0
    thermal = BOLTZMANN_KCAL_PER_MOL_K * temperature
    rng = np.random.default_rng(0)
    frames = toy_frames(400, labelled=False)
    positions = rng.normal(0.0, math.sqrt(thermal / (2 * a0)), frames.positions.shape)
    samples = Batch.from_data_list(frames_to_graphs(
        type(frames)(**{**frames.__dict__, "positions": positions}), dtype=torch.float64))
    loss = SlicedScoreMatchingLoss(temperature_K=temperature)
    values = {a: float(loss(QuadraticModel(a).double(), samples, create_graph=False))
              for a in (1.0, 1.5, 2.0, 2.5, 3.0)}
    assert min(values, key=values.get) == a0
