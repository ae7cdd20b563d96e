"""FrameSet -> torch_geometric graphs and loaders.

Each frame becomes one ``Data`` with ``z`` (atomic numbers), ``pos`` (Angstrom), ``energy``
(kcal/mol), ``forces`` (kcal/mol/A), ``weight`` (Eq. 2's per-frame weight, 1 by default),
``atom_weight`` (each atom's share of it, 1 unless weights are per atom) and ``frame_id``.
Unlabeled frames get zero labels and are only used by losses that ignore them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from harness.data.frames import FrameSet


def frame_and_atom_weights(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-frame weights (n_frames,) and each atom's share of them (n_frames, n_atoms).

    Per-atom weights w_i (n_frames, n_atoms) give the frame their mean, the weight of its energy
    term, and each atom the share w_i / mean, so that frame weight times share is the atom's own
    weight on its force term. Per-frame weights (n_frames,) return no shares (None: all 1).
    A frame whose atoms all weigh 0 keeps shares 1: it contributes nothing either way.
    """
    if weights.ndim == 1:
        return weights, None
    frame_weights = weights.mean(axis=1)
    shares = np.divide(weights, frame_weights[:, None], out=np.ones_like(weights),
                       where=frame_weights[:, None] > 0)
    return frame_weights, shares


def frames_to_graphs(frames: FrameSet, weights: np.ndarray | None = None,
                     dtype: torch.dtype = torch.float32) -> list[Data]:
    """One graph per frame; ``weights`` per frame (n_frames,) or per atom (n_frames, n_atoms),
    default ones."""
    n_frames = len(frames)
    weights = np.ones(n_frames) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(weights) != n_frames:
        raise ValueError(f"{len(weights)} weights for {n_frames} frames")
    weights, shares = frame_and_atom_weights(weights)
    z = torch.as_tensor(frames.atomic_numbers, dtype=torch.long)
    positions = torch.as_tensor(frames.positions, dtype=dtype)
    if frames.is_labelled:
        energies = torch.as_tensor(frames.energies, dtype=dtype)
        forces = torch.as_tensor(frames.forces, dtype=dtype)
    else:
        energies = torch.zeros(n_frames, dtype=dtype)
        forces = torch.zeros_like(positions)
    weight_tensor = torch.as_tensor(weights, dtype=dtype)
    share_tensor = (torch.ones(positions.shape[:2], dtype=dtype) if shares is None
                    else torch.as_tensor(shares, dtype=dtype))
    return [
        Data(z=z, pos=positions[index], energy=energies[index].reshape(1),
             forces=forces[index], weight=weight_tensor[index].reshape(1),
             atom_weight=share_tensor[index], frame_id=torch.tensor([int(frames.frame_ids[index])]))
        for index in range(n_frames)
    ]


def make_loader(graphs: list[Data], batch_size: int, shuffle: bool,
                generator: torch.Generator | None = None) -> DataLoader:
    """Mini-batches; shuffling draws from ``generator`` so that a resumed run replays it."""
    return DataLoader(graphs, batch_size=batch_size, shuffle=shuffle, generator=generator)


class FrameBatches:
    """Training or validation frames on the device, served as mini-batches by index.

    Frames of one molecule (the usual case) are stacked once, so that a batch costs a few
    indexing operations instead of a collation of ``Data`` objects and a host-device copy per
    step; frames of different molecules are collated by torch_geometric.
    """

    def __init__(self, graphs: list[Data], device: torch.device) -> None:
        if not graphs:
            raise ValueError("no frames to batch")
        self.graphs = graphs
        self.device = device
        first = graphs[0]
        self.same_molecule = all(torch.equal(graph.z, first.z) for graph in graphs)
        if self.same_molecule:
            self.z = first.z.to(device)
            self.positions = torch.stack([graph.pos for graph in graphs]).to(device)
            self.forces = torch.stack([graph.forces for graph in graphs]).to(device)
            self.energy = torch.cat([graph.energy for graph in graphs]).to(device)
            self.weight = torch.cat([graph.weight for graph in graphs]).to(device)
            self.atom_weight = torch.stack([graph.atom_weight for graph in graphs]).to(device)
            self.frame_id = torch.cat([graph.frame_id for graph in graphs]).to(device)
            self._layouts: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.graphs)

    def batch(self, index: torch.Tensor) -> Batch:
        """The frames at ``index`` (a 1-D tensor of frame positions) as one batch."""
        if not self.same_molecule:
            return Batch.from_data_list([self.graphs[i] for i in index.tolist()]).to(self.device)
        n_frames = len(index)
        z, batch_vector, ptr = self._layout(n_frames)
        index = index.to(self.device)
        batch = Batch(z=z, pos=self.positions[index].reshape(-1, 3),
                      forces=self.forces[index].reshape(-1, 3),
                      energy=self.energy[index], weight=self.weight[index],
                      atom_weight=self.atom_weight[index].reshape(-1),
                      frame_id=self.frame_id[index], batch=batch_vector, ptr=ptr)
        batch._num_graphs = n_frames
        return batch

    def _layout(self, n_frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Atomic numbers, graph index per atom and graph offsets of a batch of ``n_frames``:
        the same for every batch of that size, so built once (models only read them)."""
        if n_frames not in self._layouts:
            n_atoms = len(self.z)
            self._layouts[n_frames] = (
                self.z.repeat(n_frames),
                torch.arange(n_frames, device=self.device).repeat_interleave(n_atoms),
                torch.arange(0, (n_frames + 1) * n_atoms, n_atoms, device=self.device))
        return self._layouts[n_frames]

    def in_order(self, batch_size: int) -> list[Batch]:
        """Every frame once, in order, in batches of at most ``batch_size``."""
        return [self.batch(torch.arange(start, min(start + batch_size, len(self))))
                for start in range(0, len(self), batch_size)]
