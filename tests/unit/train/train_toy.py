"""Test helpers: toy frames with exact labels, a closed-form model and a tiny EGNN config.

The toy molecule (C, O, H, H) has a pairwise harmonic energy in kcal/mol, so labels are exact
and a small network learns them in a few epochs on CPU.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from harness.data.frames import FrameSet
from harness.train.bias_diagnostics import true_bias
from harness.train.config import Schedule, parse_config
from harness.train.methods import MethodContext, Splits
from models.base import ForceField

TOY_ATOMIC_NUMBERS = np.array([6, 8, 1, 1])
TOY_GEOMETRY = np.array([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [-0.6, 0.9, 0.0], [-0.6, -0.9, 0.0]])
TINY_EGNN = {"n_features": 8, "n_layers": 1}


def harmonic_labels(positions: np.ndarray, stiffness: float) -> tuple[np.ndarray, np.ndarray]:
    """Energies (kcal/mol) and forces (kcal/mol/A) of springs at the toy geometry's lengths."""
    x = torch.as_tensor(positions, dtype=torch.float64).requires_grad_(True)
    rest = torch.cdist(torch.as_tensor(TOY_GEOMETRY), torch.as_tensor(TOY_GEOMETRY))
    energies = 0.5 * stiffness * ((torch.cdist(x, x) - rest) ** 2).sum(dim=(1, 2)) / 2
    (gradient,) = torch.autograd.grad(energies.sum(), x)
    return energies.detach().numpy() - 100.0, -gradient.numpy()


def toy_frames(n_frames: int, seed: int = 0, level: str = "toy", stiffness: float = 50.0,
               labelled: bool = True) -> FrameSet:
    rng = np.random.default_rng(seed)
    positions = TOY_GEOMETRY + 0.08 * rng.standard_normal((n_frames, len(TOY_GEOMETRY), 3))
    energies, forces = harmonic_labels(positions, stiffness) if labelled else (None, None)
    return FrameSet(molecule="toy", level=level, atomic_numbers=TOY_ATOMIC_NUMBERS,
                    positions=positions, energies=energies, forces=forces, source=f"toy-{level}",
                    frame_ids=np.arange(n_frames) + 1000 * seed, temperature_K=300.0)


class QuadraticModel(ForceField):
    """E = a * sum over atoms |x|^2 (times the scale, plus the shift): F = -2 a scale x."""

    def __init__(self, curvature: float = 1.0) -> None:
        super().__init__()
        self.curvature = nn.Parameter(torch.tensor(curvature, dtype=torch.float64))

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        squared = positions.square().sum(dim=-1)
        return self.curvature * scatter(squared, batch, dim=0, dim_size=n_molecules,
                                        reduce="sum")


def quick_schedule(**changes: Any) -> Schedule:
    settings: dict[str, Any] = {"learning_rate": 3e-3, "batch_size": 8, "max_epochs": 3,
                                "early_stopping_patience": None, "ema_decay": 0.9,
                                "evaluation_batch_size": 32}
    settings.update(changes)
    return Schedule(**settings)


def tiny_config(method: str = "standard", **changes: Any) -> dict[str, Any]:
    """A config mapping for in-memory tests (paths are never read by them)."""
    schedule = {"learning_rate": 3e-3, "batch_size": 8, "max_epochs": 2,
                "early_stopping_patience": None, "ema_decay": 0.9}
    config: dict[str, Any] = {
        "name": f"toy-{method}", "method": method, "seed": 0, "dtype": "float64",
        "device": "cpu", "progress": False,
        "data": {"accurate": {"path": "toy", "level": "accurate"},
                 "inaccurate": {"path": "toy", "level": "inaccurate"},
                 "n_accurate_train": 16, "n_inaccurate_train": 32, "n_validation": 8,
                 "n_test": 8},
        "model": {"name": "egnn", "hyperparameters": TINY_EGNN},
        "schedules": {name: dict(schedule) for name in
                      ("accurate", "inaccurate", "unlabeled", "fine_tune")},
        "asteroid": {"gammas": [0.5, 2.0]},
        "tracking": {"enabled": False},
    }
    config.update(changes)
    return config


def toy_splits(inaccurate_labelled: bool = True) -> Splits:
    accurate = toy_frames(16, seed=0, level="accurate")
    inaccurate = toy_frames(32, seed=5, level="inaccurate", stiffness=40.0,
                            labelled=inaccurate_labelled)
    return Splits(accurate_train=accurate, validation=toy_frames(8, seed=1, level="accurate"),
                  test=toy_frames(8, seed=2, level="accurate"), inaccurate_train=inaccurate,
                  inaccurate_level=inaccurate)


def context(tmp_path: Path, method: str, **changes: Any) -> MethodContext:
    """A CPU, float64 method context of ``tiny_config(method, **changes)``."""
    config = parse_config(tiny_config(method, **changes), "toy.yaml")
    return MethodContext(config, torch.device("cpu"), torch.float64, tmp_path)


def paired_toy_splits(corruption: float = 3.0) -> Splits:
    """Cheap labels on the accurate frames' own geometries (as on the embedded ethanol data),
    wrong by the forces of the energy ``corruption`` * sum |x|^2: a frame's true bias
    2 * corruption * mean |x| grows with its atoms' distance from the origin, which a model can
    learn from the geometry."""
    accurate = toy_frames(64, seed=0, level="accurate")
    squared = np.square(accurate.positions).sum(axis=(1, 2))
    cheap = replace(accurate, level="cheap", source="toy-cheap",
                    energies=accurate.energies + corruption * squared,
                    forces=accurate.forces - 2 * corruption * accurate.positions)
    train, validation, test = (np.arange(0, 16), np.arange(16, 24), np.arange(24, 32))
    cheap_train = cheap.subset(np.arange(32, 64))
    return Splits(accurate_train=accurate.subset(train), validation=accurate.subset(validation),
                  test=accurate.subset(test), inaccurate_train=cheap_train,
                  inaccurate_level=cheap, true_bias=true_bias(accurate, cheap_train))
