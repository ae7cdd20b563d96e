"""One small ASTEROID trial on MACE (mace-torch), end to end on the embedded ethanol data:
stage 1 on CCSD, bias and weights of the xTB frames, stage 2, fine-tuning, the test set and
the saved model, which loads back with MACE's fitted neighbour count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.model_file import load_model
from harness.train.config import parse_config
from harness.train.experiment import run
from models.mace import mace_installed

ETHANOL = str(Path(__file__).resolve().parents[2] / "data" / "ethanol")
SMALL_MACE = {"hidden_irreps": "8x0e + 8x1o", "max_ell": 2, "correlation": 2, "num_bessel": 4,
              "radial_mlp": [8], "mlp_irreps": "4x0e"}

pytestmark = pytest.mark.skipif(not mace_installed(),
                                reason="mace-torch is not installed (pip install -e '.[mace]')")


def tiny_asteroid_config() -> dict:
    schedule = {"max_steps": 6, "batch_size": 5, "validation_interval": 3}
    return {
        "name": "ethanol-mace-asteroid-tiny", "method": "asteroid", "device": "cpu",
        "dtype": "float32", "deterministic": True, "progress": False, "cpu_threads": 1,
        "data": {"accurate": {"path": ETHANOL, "level": "ccsd"},
                 "inaccurate": {"path": ETHANOL, "level": "xtb"},
                 "n_accurate_train": 10, "n_inaccurate_train": 20, "n_validation": 5,
                 "n_test": 10},
        "model": {"name": "mace", "hyperparameters": SMALL_MACE},
        "schedules": {"accurate": dict(schedule), "inaccurate": dict(schedule),
                      "fine_tune": dict(schedule)},
        "asteroid": {"gammas": [1.0]},
        "tracking": {"enabled": False},
    }


def test_asteroid_trains_mace_end_to_end_on_ethanol(tmp_path: Path) -> None:
    results = run(parse_config(tiny_asteroid_config(), "mace.yaml"), "mace.yaml",
                  tmp_path / "run")
    assert [stage["name"] for stage in results["stages"]] == [
        "stage1", "stage2_gamma1", "stage3_gamma1", "stage3_gamma1_lr_x4"]
    assert np.isfinite(results["test"]["force_mae"]) and results["test"]["force_mae"] > 0
    model = load_model(tmp_path / "run" / "model.pt").model
    assert model.registry_name == "mace"
    # all 9 atoms of ethanol are within the 5 A cutoff of each other
    assert float(model.avg_num_neighbors) == 8.0
    assert all(block.avg_num_neighbors == 8.0 for block in model.mace.interactions)
    assert model.avg_num_neighbors.dtype == torch.float32
