"""An sGDML run logged to MLflow gives its calculator back by run id, as a network's run does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from harness.md.calculator import load_calculator
from harness.train.config import parse_config
from harness.train.experiment import run

ETHANOL = Path(__file__).resolve().parents[2] / "data" / "ethanol"


def test_an_sgdml_model_loads_from_its_mlflow_run_id(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = parse_config({
        "name": "tiny-sgdml", "method": "sgdml", "progress": False, "cpu_threads": 1,
        "data": {"accurate": {"path": str(ETHANOL), "level": "ccsd"}, "n_accurate_train": 8,
                 "n_validation": 4, "n_test": 4},
        "baselines": {"sgdml": {"sigmas": [10]}},
        "tracking": {"uri": uri, "experiment": "tiny-sgdml"}}, "tiny-sgdml.yaml")
    run(config, "tiny-sgdml.yaml", tmp_path / "run")
    run_id = (tmp_path / "run" / "mlflow_run_id.txt").read_text().strip()
    with np.load(ETHANOL / "trajectory.npz") as trajectory:
        numbers, start = trajectory["atomic_numbers"], trajectory["positions"][0]
    results = []
    for source in (tmp_path / "run", f"runs:/{run_id}"):
        atoms = Atoms(numbers=numbers, positions=start)
        atoms.calc = load_calculator(source, tracking_uri=uri)
        results.append((atoms.get_potential_energy(), atoms.get_forces()))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)
