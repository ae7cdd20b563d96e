"""The ASE boundary: eV and eV/Angstrom out, one model call for many replicas, no cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms, units
from md_toy import SpringModel, ethanol_start, save_run

from harness.errors import ConfigError
from harness.md.calculator import ForceFieldCalculator, ReplicaForces, load_calculator
from harness.md.loading import prepare_for_inference
from models import build_model
from models.base import energy_and_forces

EV_PER_KCAL_PER_MOL = units.kcal / units.mol  # 0.0433641...


def displaced_ethanol(scale: float = 0.05, seed: int = 0) -> Atoms:
    numbers, positions = ethanol_start()
    noise = np.random.default_rng(seed).normal(scale=scale, size=positions.shape)
    return Atoms(numbers=numbers, positions=positions + noise)


def model_in_internal_units(model: torch.nn.Module, atoms: Atoms) -> tuple[float, np.ndarray]:
    numbers = torch.as_tensor(atoms.numbers)
    positions = torch.as_tensor(atoms.positions, dtype=torch.float64)
    energies, forces = energy_and_forces(model, numbers, positions,
                                         torch.zeros(len(atoms), dtype=torch.long), 1)
    return float(energies.detach()[0]), forces.detach().numpy()


def test_calculator_speaks_ev_while_the_model_speaks_kcal_per_mol() -> None:
    atoms = displaced_ethanol()
    calculator = ForceFieldCalculator(SpringModel(ethanol_start()[1]))
    atoms.calc = calculator
    energy_kcal, forces_kcal = model_in_internal_units(calculator.model, atoms)
    assert EV_PER_KCAL_PER_MOL == pytest.approx(0.0433641, rel=1e-5)
    assert atoms.get_potential_energy() == pytest.approx(energy_kcal * EV_PER_KCAL_PER_MOL,
                                                         rel=1e-12)
    assert np.allclose(atoms.get_forces(), forces_kcal * EV_PER_KCAL_PER_MOL, rtol=1e-12)
    assert abs(atoms.get_potential_energy()) > 1e-3  # the check is not vacuous


def test_calculator_forces_are_minus_the_gradient_of_its_energy_in_ev_per_angstrom() -> None:
    torch.manual_seed(0)
    atoms = displaced_ethanol()
    atoms.calc = ForceFieldCalculator(build_model("egnn", {"n_features": 16, "n_layers": 2}))
    forces = atoms.get_forces()
    step = 1e-5
    for atom, axis in ((0, 0), (2, 1), (8, 2)):
        shifted = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.calc = atoms.calc
            moved.positions[atom, axis] += sign * step
            shifted.append(moved.get_potential_energy())
        assert -(shifted[0] - shifted[1]) / (2 * step) == pytest.approx(forces[atom, axis],
                                                                         rel=1e-6, abs=1e-8)


def test_float32_and_float64_calculators_agree() -> None:
    torch.manual_seed(0)
    model = build_model("egnn", {"n_features": 16, "n_layers": 2})
    atoms = displaced_ethanol()
    results = []
    for dtype in (torch.float64, torch.float32):
        atoms.calc = ForceFieldCalculator(model, dtype=dtype)
        results.append(atoms.get_forces())
        assert atoms.calc.model.energy_scale.dtype == dtype
    assert np.allclose(results[0], results[1], atol=1e-4)


def test_replicas_in_one_call_equal_one_molecule_at_a_time() -> None:
    torch.manual_seed(0)
    model = prepare_for_inference(build_model("egnn", {"n_features": 16, "n_layers": 2}),
                                  torch.float64, "cpu")
    numbers = ethanol_start()[0]
    batch = torch.as_tensor(np.stack([displaced_ethanol(seed=seed).positions
                                      for seed in range(3)]))
    forces = ReplicaForces(model, numbers)
    energies, all_forces = forces(batch)
    for replica in range(3):
        alone_energy, alone_forces = forces(batch[replica:replica + 1])
        assert float(energies[replica]) == pytest.approx(float(alone_energy[0]), rel=1e-12)
        assert torch.allclose(all_forces[replica], alone_forces[0], rtol=1e-10, atol=1e-12)


def test_periodic_atoms_are_refused_with_the_field_named() -> None:
    atoms = displaced_ethanol()
    atoms.set_cell([10.0, 10.0, 10.0])
    atoms.pbc = True
    atoms.calc = ForceFieldCalculator(SpringModel(ethanol_start()[1]))
    with pytest.raises(ConfigError, match="pbc"):
        atoms.get_potential_energy()


def test_a_calculator_loaded_from_a_run_folder_is_the_saved_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("egnn", {"n_features": 8, "n_layers": 1})
    folder = save_run(tmp_path / "run", weights=model)
    atoms, again = displaced_ethanol(), displaced_ethanol()
    atoms.calc = load_calculator(folder)
    again.calc = ForceFieldCalculator(model)
    assert atoms.get_potential_energy() == pytest.approx(again.get_potential_energy(),
                                                         rel=1e-12)
