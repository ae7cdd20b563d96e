"""EGNN-specific behaviour; the shared physics suite (test_physics.py) covers the rest."""

from __future__ import annotations

import pytest
import torch

from models import HyperparameterError, build_model
from models.egnn import EGNN


def test_defaults_are_the_papers_five_layers_of_128_features():
    model = build_model("egnn")
    assert isinstance(model, EGNN)
    assert len(model.layers) == 5
    assert model.embedding.embedding_dim == 128
    assert model.cutoff is None


def test_embedding_must_cover_hydrogen_carbon_nitrogen_oxygen():
    with pytest.raises(HyperparameterError, match="max_atomic_number"):
        build_model("egnn", {"max_atomic_number": 7})


def test_unknown_hyperparameter_is_a_hyperparameter_error():
    with pytest.raises(HyperparameterError, match="model.n_hidden"):
        build_model("egnn", {"n_hidden": 64})


def test_energy_is_continuous_where_a_pair_crosses_the_cutoff():
    torch.manual_seed(0)
    model = build_model("egnn", {"n_features": 16, "n_layers": 2, "cutoff": 3.0}).double()
    atomic_numbers = torch.tensor([6, 8])
    batch = torch.zeros(2, dtype=torch.long)

    def energy(distance: float) -> float:
        positions = torch.tensor([[0.0, 0.0, 0.0], [distance, 0.0, 0.0]], dtype=torch.float64)
        with torch.no_grad():
            return float(model(atomic_numbers, positions, batch, 1))

    isolated = energy(10.0)
    assert energy(3.0 - 1e-4) == pytest.approx(isolated, abs=1e-8)
    assert energy(3.0 + 1e-4) == isolated
    assert energy(2.0) != pytest.approx(isolated, abs=1e-6)


def test_every_layer_but_the_last_updates_coordinates_when_asked():
    torch.manual_seed(0)
    invariant = build_model("egnn", {"n_features": 16, "n_layers": 3})
    updating = build_model("egnn", {"n_features": 16, "n_layers": 3,
                                    "update_coordinates": True})
    assert [layer.coordinate_mlp is not None for layer in updating.layers] == [True, True, False]
    assert all(layer.coordinate_mlp is None for layer in invariant.layers)
