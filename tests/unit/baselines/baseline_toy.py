"""Test helpers of the baselines: harmonic toy frames with exact labels, configs, a tracker.

The toy molecule (C, O, H, H: elements ANI-1ccx covers) has pairwise springs at its rest
lengths; energies in kcal/mol (with an offset, as a level of theory has its own zero), forces
in kcal/mol/A, so a model that learns is measurably better than one that does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.data.frames import FrameSet

TOY_ATOMIC_NUMBERS = np.array([6, 8, 1, 1])
TOY_GEOMETRY = np.array([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [-0.6, 0.9, 0.0], [-0.6, -0.9, 0.0]])


def harmonic_frames(n_frames: int, seed: int, stiffness: float = 50.0) -> FrameSet:
    rng = np.random.default_rng(seed)
    positions = TOY_GEOMETRY + 0.08 * rng.standard_normal((n_frames, len(TOY_GEOMETRY), 3))
    x = torch.as_tensor(positions).requires_grad_(True)
    rest = torch.cdist(torch.as_tensor(TOY_GEOMETRY), torch.as_tensor(TOY_GEOMETRY))
    energies = 0.25 * stiffness * ((torch.cdist(x, x) - rest) ** 2).sum(dim=(1, 2))
    (gradient,) = torch.autograd.grad(energies.sum(), x)
    return FrameSet(molecule="toy", level="springs", atomic_numbers=TOY_ATOMIC_NUMBERS,
                    positions=positions, energies=energies.detach().numpy() - 500.0,
                    forces=-gradient.numpy(), source=f"toy-{seed}",
                    frame_ids=np.arange(n_frames) + 1000 * seed)


def baseline_config(method: str, **changes: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "name": f"toy-{method}", "method": method, "progress": False, "cpu_threads": 1,
        "data": {"accurate": {"path": "toy"}, "n_accurate_train": 30, "n_validation": 10,
                 "n_test": 12},
        "tracking": {"enabled": False}}
    content.update(changes)
    return content


class RecordingTracker:
    """A tracker that keeps what it is given (the MLflow side is tested elsewhere)."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.artifacts: list[Path] = []
        self.status: str | None = None
        self.tags: dict[str, str] = {}

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.update(metrics)

    def log_metric_entries(self, entries: list[tuple[str, float, int]]) -> None:
        self.metrics.update({name: value for name, value, _ in entries})

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tags.update(tags)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self.artifacts.append(Path(path))

    def close(self, status: str = "FINISHED") -> None:
        self.status = status
