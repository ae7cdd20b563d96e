"""Shared fixtures of the model tests: a small configuration of every registered backbone.

A new backbone adds one entry to ``SMALL_HYPERPARAMETERS``; ``test_physics.py`` then runs the
whole physics suite on it (a registered model without an entry fails the suite on purpose).
``VARIANTS`` adds configurations whose options change the physics (cutoffs, coordinate updates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from torch import Tensor

from harness.bench.molecules import ASPIRIN, ETHANOL, METHANE, Geometry
from models import ForceField, available_models, build_model, missing_dependency

SMALL_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "egnn": {"n_features": 16, "n_layers": 2},
    "gemnet_t": {"num_blocks": 2, "emb_size_atom": 16, "emb_size_edge": 16, "emb_size_trip": 8,
                 "emb_size_rbf": 4, "emb_size_cbf": 4, "emb_size_bil_trip": 8,
                 "num_radial": 4, "num_spherical": 3},
    "mace": {"hidden_irreps": "8x0e + 8x1o", "max_ell": 2, "correlation": 2, "num_bessel": 4,
             "radial_mlp": [8], "mlp_irreps": "4x0e"},
}

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "egnn-cutoff-coordinate-updates": ("egnn", {
        "n_features": 16, "n_layers": 2, "cutoff": 3.0, "radial_basis_size": 8,
        "update_coordinates": True,
    }),
}

Batch = tuple[Tensor, Tensor, Tensor]


def _physics_cases() -> dict[str, tuple[str, dict[str, Any] | None]]:
    cases: dict[str, tuple[str, dict[str, Any] | None]] = {
        name: (name, SMALL_HYPERPARAMETERS.get(name)) for name in available_models()
    }
    cases.update(VARIANTS)
    return cases


@pytest.fixture(params=sorted(_physics_cases()))
def physics_case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """(registered name, small hyper-parameters), one per model and per variant.

    A backbone whose optional package is not installed (``missing_dependency``) is skipped.
    """
    name, hyperparameters = _physics_cases()[request.param]
    if missing := missing_dependency(name):
        pytest.skip(f"model '{name}' needs {missing}")
    if hyperparameters is None:
        pytest.fail(f"model '{name}' is registered but has no entry in SMALL_HYPERPARAMETERS "
                    "(tests/unit/models/conftest.py)")
    return name, hyperparameters


def make_test_model(name: str, hyperparameters: dict[str, Any], seed: int = 0) -> ForceField:
    """A float64 model in eval mode with perturbed weights and a non-trivial shift and scale.

    The perturbation keeps zero-initialised output layers from making the checks vacuous.
    """
    torch.manual_seed(seed)
    model = build_model(name, hyperparameters).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.add_(0.05 * noise.to(parameter.device))
        model.atomic_energy_shift.copy_(
            torch.randn(model.atomic_energy_shift.shape, generator=generator) * 100.0)
        model.energy_scale.fill_(3.0)
    return model.eval()


@pytest.fixture
def small_model(physics_case: tuple[str, dict[str, Any]]) -> ForceField:
    return make_test_model(*physics_case)


def collate(geometries: Sequence[Geometry], dtype: torch.dtype = torch.float64) -> Batch:
    """Atomic numbers, positions and molecule index of the atoms of ``geometries``, in order."""
    atomic_numbers = torch.cat([torch.as_tensor(g.atomic_numbers) for g in geometries])
    positions = torch.cat([torch.as_tensor(g.positions, dtype=dtype) for g in geometries])
    batch = torch.cat([torch.full((len(g.atomic_numbers),), index, dtype=torch.long)
                       for index, g in enumerate(geometries)])
    return atomic_numbers, positions, batch


@pytest.fixture
def batch_of() -> Callable[..., Batch]:
    return collate


@pytest.fixture
def ethanol() -> Geometry:
    return ETHANOL


@pytest.fixture
def methane() -> Geometry:
    return METHANE


@pytest.fixture
def aspirin() -> Geometry:
    return ASPIRIN
