"""FrameSet -> torch_geometric graphs and loaders.

Each frame becomes one ``Data`` with ``z`` (atomic numbers), ``pos`` (Angstrom), ``energy``
(kcal/mol), ``forces`` (kcal/mol/A), ``weight`` (Eq. 2's per-frame weight, 1 by default) and
``frame_id``. Unlabeled frames get zero labels and are only used by losses that ignore them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from harness.data.frames import FrameSet


def frames_to_graphs(frames: FrameSet, weights: np.ndarray | None = None,
                     dtype: torch.dtype = torch.float32) -> list[Data]:
    """One graph per frame; ``weights`` (n_frames,) default to ones."""
    n_frames = len(frames)
    if weights is None:
        weights = np.ones(n_frames)
    if len(weights) != n_frames:
        raise ValueError(f"{len(weights)} weights for {n_frames} frames")
    z = torch.as_tensor(frames.atomic_numbers, dtype=torch.long)
    positions = torch.as_tensor(frames.positions, dtype=dtype)
    if frames.is_labelled:
        energies = torch.as_tensor(frames.energies, dtype=dtype)
        forces = torch.as_tensor(frames.forces, dtype=dtype)
    else:
        energies = torch.zeros(n_frames, dtype=dtype)
        forces = torch.zeros_like(positions)
    weight_tensor = torch.as_tensor(np.asarray(weights), dtype=dtype)
    return [
        Data(z=z, pos=positions[index], energy=energies[index].reshape(1),
             forces=forces[index], weight=weight_tensor[index].reshape(1),
             frame_id=torch.tensor([int(frames.frame_ids[index])]))
        for index in range(n_frames)
    ]


def make_loader(graphs: list[Data], batch_size: int, shuffle: bool,
                generator: torch.Generator | None = None) -> DataLoader:
    """Mini-batches; shuffling draws from ``generator`` so that a resumed run replays it."""
    return DataLoader(graphs, batch_size=batch_size, shuffle=shuffle, generator=generator)
