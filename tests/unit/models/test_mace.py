"""MACE-specific behaviour: the optional package, the e3nn import workaround, input checks.

The shared physics suite (test_physics.py) covers forces, invariances, batching and saving.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import models.mace
from harness.bench.molecules import ETHANOL
from models import HyperparameterError, build_model, energy_and_forces, installed_models
from models.mace import FORCE_UNSAFE_LOAD, mace_installed

# the small configuration of conftest.SMALL_HYPERPARAMETERS (not importable by name: several
# conftest.py files share the module name)
SMALL = {"hidden_irreps": "8x0e + 8x1o", "max_ell": 2, "correlation": 2, "num_bessel": 4,
         "radial_mlp": [8], "mlp_irreps": "4x0e"}
REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
needs_mace = pytest.mark.skipif(not mace_installed(),
                                reason="mace-torch is not installed (pip install -e '.[mace]')")


def ethanol_inputs(dtype: torch.dtype = torch.float64
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    atomic_numbers = torch.as_tensor(ETHANOL.atomic_numbers)
    positions = torch.as_tensor(ETHANOL.positions, dtype=dtype)
    return atomic_numbers, positions, torch.zeros(len(atomic_numbers), dtype=torch.long)


def test_without_the_package_mace_stays_registered_and_building_it_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(models.mace, "mace_installed", lambda: False)
    assert "mace" not in installed_models()
    with pytest.raises(HyperparameterError, match=r"model\.name.*pip install -e '\.\[mace\]'"):
        build_model("mace")


def test_elements_outside_the_periodic_range_are_a_hyperparameter_error():
    with pytest.raises(HyperparameterError, match=r"model\.elements"):
        build_model("mace", {"elements": [1, 6, 6]})
    with pytest.raises(HyperparameterError, match=r"model\.elements"):
        build_model("mace", {"elements": [1, 11]})


@needs_mace
def test_malformed_irreps_are_a_hyperparameter_error():
    with pytest.raises(HyperparameterError, match=r"model\.hidden_irreps"):
        build_model("mace", {**SMALL, "hidden_irreps": "eight scalars"})
    with pytest.raises(HyperparameterError, match=r"model\.hidden_irreps.*0e"):
        build_model("mace", {**SMALL, "hidden_irreps": "8x1o"})


@needs_mace
def test_an_element_the_model_does_not_know_is_refused():
    model = build_model("mace", {**SMALL, "elements": [1, 6]}).double()
    with pytest.raises(ValueError, match=r"\[8\]"):
        model(*ethanol_inputs())


@needs_mace
def test_maces_own_reference_energies_are_zero_and_the_energy_is_its_interaction_energy():
    torch.manual_seed(0)
    model = build_model("mace", SMALL).double()
    atomic_numbers, positions, batch = ethanol_inputs()
    assert torch.all(model.mace.atomic_energies_fn.atomic_energies == 0)
    model.atomic_energy_shift.zero_()
    model.energy_scale.fill_(1.0)
    energy, forces = energy_and_forces(model, atomic_numbers, positions, batch, 1)
    assert energy.abs().item() > 0 and torch.all(torch.isfinite(forces))


@needs_mace
def test_evaluating_does_not_mark_the_callers_positions_as_needing_a_gradient():
    model = build_model("mace", SMALL)
    atomic_numbers, positions, batch = ethanol_inputs(torch.float32)
    with torch.no_grad():
        model(atomic_numbers, positions, batch, 1)
    assert not positions.requires_grad


@needs_mace
def test_importing_mace_leaves_torch_load_weights_only_for_the_rest_of_the_process():
    """In a fresh interpreter: e3nn 0.4.4 imports, and mace-torch's global switch is undone."""
    script = (
        "import os\n"
        "from models import build_model\n"
        f"build_model('mace', {SMALL!r})\n"
        f"print(os.environ.get({FORCE_UNSAFE_LOAD!r}))\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != FORCE_UNSAFE_LOAD}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY_ROOT,
                            env=environment, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "None"  # and nothing else on stdout (cuequivariance note)


@needs_mace
def test_avg_num_neighbors_is_fitted_on_training_batches_and_survives_a_state_dict_round_trip():
    model = build_model("mace", SMALL).double()
    inputs = ethanol_inputs()
    assert model.fit_scaling([inputs]) is True
    assert float(model.avg_num_neighbors) == 8.0  # every atom of ethanol is within 5 A of all
    assert all(block.avg_num_neighbors == 8.0 for block in model.mace.interactions)
    assert model.fit_scaling([inputs]) is False  # once
    rebuilt = build_model("mace", SMALL).double()
    rebuilt.load_state_dict(model.state_dict())
    assert all(block.avg_num_neighbors == 8.0 for block in rebuilt.mace.interactions)
    assert rebuilt.fit_scaling([inputs]) is False


@needs_mace
def test_a_given_avg_num_neighbors_is_never_refitted():
    model = build_model("mace", {**SMALL, "avg_num_neighbors": 3.0}).double()
    assert model.fit_scaling([ethanol_inputs()], refit=True) is False
    assert all(block.avg_num_neighbors == 3.0 for block in model.mace.interactions)


@needs_mace
def test_the_cutoff_is_where_harness_export_looks_for_it():
    assert build_model("mace", {**SMALL, "r_max": 4.0}).cutoff == 4.0
