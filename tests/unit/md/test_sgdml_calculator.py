"""An sGDML run's model through the one calculator entry point: sGDML's own prediction in eV,
forces that are minus the energy gradient and that turn with the molecule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from md_toy import PROJECT_ROOT, save_run
from scipy.spatial.transform import Rotation

from harness.baselines.sgdml import sgdml_predict
from harness.data.frames import FrameSet
from harness.data.readers import load_any
from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.errors import ConfigError, DataError
from harness.md.calculator import ForceFieldCalculator, load_calculator
from harness.md.loading import load_model
from harness.md.sgdml_calculator import SgdmlModelCalculator
from harness.model_file import SGDML_MODEL_FILE
from harness.train.config import parse_config
from harness.train.experiment import run

ETHANOL = PROJECT_ROOT / "data" / "ethanol"


@pytest.fixture(scope="module")
def sgdml_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder `harness train` leaves for sGDML on 8 CCSD frames of ethanol."""
    folder = tmp_path_factory.mktemp("sgdml") / "run"
    config = parse_config({
        "name": "tiny-sgdml", "method": "sgdml", "progress": False, "cpu_threads": 1,
        "data": {"accurate": {"path": str(ETHANOL), "level": "ccsd"}, "n_accurate_train": 8,
                 "n_validation": 4, "n_test": 4},
        "baselines": {"sgdml": {"sigmas": [10]}}, "tracking": {"enabled": False}},
        "tiny-sgdml.yaml")
    run(config, "tiny-sgdml.yaml", folder)
    return folder


def last_frames(count: int) -> FrameSet:
    """The last ``count`` CCSD frames of ethanol (Angstrom, kcal/mol)."""
    frames = load_any(ETHANOL)["ccsd"]
    return frames.subset(np.arange(len(frames) - count, len(frames)))


def molecule(frames: FrameSet, index: int = 0) -> Atoms:
    return Atoms(numbers=frames.atomic_numbers, positions=frames.positions[index])


def gradient_by_finite_differences(atoms: Atoms, step: float = 1e-4) -> np.ndarray:
    gradient = np.zeros((len(atoms), 3))
    for atom in range(len(atoms)):
        for axis in range(3):
            shifted = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.calc = atoms.calc
                moved.positions[atom, axis] += sign * step
                shifted.append(moved.get_potential_energy())
            gradient[atom, axis] = (shifted[0] - shifted[1]) / (2 * step)
    return gradient


@pytest.mark.parametrize("source", ["run folder", "model file"])
def test_sgdml_calculator_gives_sgdmls_prediction_in_ev(sgdml_run: Path, source: str) -> None:
    model_path = sgdml_run / "checkpoints" / SGDML_MODEL_FILE
    calculator = load_calculator(sgdml_run if source == "run folder" else model_path)
    assert isinstance(calculator, SgdmlModelCalculator)
    frames = last_frames(3)
    with np.load(model_path, allow_pickle=True) as model:
        energies, forces = sgdml_predict(dict(model), frames, max_processes=1)
    for frame in range(len(frames)):
        atoms = molecule(frames, frame)
        atoms.calc = calculator
        energy = atoms.get_potential_energy()
        assert isinstance(energy, float)
        # float64 agreement: two sGDML predictors may sum the kernel in different chunks (each
        # picks its own from a timing benchmark), which moves the last digits (~1e-12 eV/A)
        assert energy == pytest.approx(energies[frame] * KCAL_PER_MOL_IN_EV, rel=1e-10)
        np.testing.assert_allclose(atoms.get_forces(), forces[frame] * KCAL_PER_MOL_IN_EV,
                                   rtol=1e-9, atol=1e-9)


def test_sgdml_forces_are_minus_the_gradient_of_its_energy(sgdml_run: Path) -> None:
    atoms = molecule(last_frames(1))
    atoms.calc = load_calculator(sgdml_run)
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 1e-2  # eV/A: the check is not vacuous
    np.testing.assert_allclose(-gradient_by_finite_differences(atoms), forces, rtol=1e-5,
                               atol=1e-6)


def test_rotating_the_molecule_rotates_the_sgdml_forces(sgdml_run: Path) -> None:
    rotation = Rotation.from_euler("xyz", [30, -50, 110], degrees=True).as_matrix()
    atoms = molecule(last_frames(1))
    turned = atoms.copy()
    turned.positions = atoms.positions @ rotation.T
    atoms.calc = turned.calc = load_calculator(sgdml_run)
    assert turned.get_potential_energy() == pytest.approx(atoms.get_potential_energy(),
                                                          rel=1e-10)
    np.testing.assert_allclose(turned.get_forces(), atoms.get_forces() @ rotation.T,
                               rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("field", ["atoms.numbers", "atoms.pbc"])
def test_another_molecule_or_a_cell_is_refused_by_the_sgdml_calculator(sgdml_run: Path,
                                                                        field: str) -> None:
    atoms = molecule(last_frames(1))
    if field == "atoms.numbers":
        atoms.numbers = atoms.numbers[::-1]
    else:
        atoms.set_cell([20.0, 20.0, 20.0], scale_atoms=False)
        atoms.pbc = True
    atoms.calc = load_calculator(sgdml_run)
    with pytest.raises(ConfigError) as error:
        atoms.get_forces()
    assert error.value.key_path == field


def test_a_network_run_folder_gives_the_network_calculator(tmp_path: Path) -> None:
    assert isinstance(load_calculator(save_run(tmp_path / "run")), ForceFieldCalculator)


def test_md_loading_says_an_sgdml_model_goes_through_the_calculator(sgdml_run: Path) -> None:
    with pytest.raises(ConfigError, match="load_calculator"):
        load_model(sgdml_run)


def test_a_folder_with_neither_model_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_calculator(tmp_path)
    message = str(error.value)
    assert "model.pt" in message and SGDML_MODEL_FILE in message and str(tmp_path) in message
    assert "\n" not in message
