"""When a trajectory has failed: two criteria, each recorded separately.

- ``max_pair_distance_A``: the largest interatomic distance exceeds a threshold (the paper's
  criterion: the molecule has come apart). The default, 5 Angstrom for ethanol, is 0.6 A above
  the largest distance in 10,000 frames of the 500 K xTB reference MD (4.40 A).
- ``bond_stretch_factor``: a covalent bond is longer than this factor times its length in the
  starting geometry (a bond broke, even if the molecule stays compact). Bonds are the pairs
  closer than ``bond_detection_factor`` times the sum of their covalent radii (ase.data) in the
  starting geometry. Default 1.5: the 500 K reference MD never stretches a bond beyond 1.32
  times its length in the first frame.

A non-finite position fails both criteria at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from ase.data import covalent_radii
from pydantic import ConfigDict, Field
from torch import Tensor

from harness.validation import Strict

NOT_FAILED = -1


class StabilityCriteria(Strict):
    """Thresholds of the two failure criteria (Angstrom; dimensionless factors)."""

    model_config = ConfigDict(frozen=True)

    max_pair_distance_A: float = Field(5.0, gt=0)
    bond_stretch_factor: float = Field(1.5, gt=1)
    bond_detection_factor: float = Field(1.2, gt=0)


@dataclass(frozen=True)
class Bonds:
    """Bonded pairs (n_bonds, 2) and their reference lengths (n_bonds,) in Angstrom."""

    pairs: np.ndarray
    lengths: np.ndarray


def detect_bonds(atomic_numbers: np.ndarray, positions: np.ndarray,
                 detection_factor: float) -> Bonds:
    """Pairs closer than ``detection_factor`` times their summed covalent radii."""
    radii = covalent_radii[np.asarray(atomic_numbers)]
    distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    first, second = np.nonzero(np.triu(distances < detection_factor
                                       * (radii[:, None] + radii[None]), k=1))
    pairs = np.stack([first, second], axis=1)
    return Bonds(pairs=pairs, lengths=distances[first, second])


def violations(positions: Tensor, bonds: Bonds, criteria: StabilityCriteria
               ) -> tuple[Tensor, Tensor]:
    """Per replica of positions (R, n_atoms, 3): (max distance exceeded, a bond overstretched)."""
    distances = torch.cdist(positions, positions)
    broken = ~torch.isfinite(positions).all(dim=2).all(dim=1)
    too_far = distances.amax(dim=(1, 2)) > criteria.max_pair_distance_A
    if len(bonds.pairs) == 0:
        return too_far | broken, broken
    pairs = torch.as_tensor(bonds.pairs, device=positions.device)
    limits = criteria.bond_stretch_factor * torch.as_tensor(bonds.lengths).to(distances)
    stretched = (distances[:, pairs[:, 0], pairs[:, 1]] > limits).any(dim=1)
    return too_far | broken, stretched | broken


class FailureMonitor:
    """First failing step of each criterion, per replica (``NOT_FAILED`` while it holds)."""

    def __init__(self, n_replicas: int, bonds: Bonds, criteria: StabilityCriteria) -> None:
        self.bonds, self.criteria = bonds, criteria
        self.distance_failure_step = np.full(n_replicas, NOT_FAILED)
        self.bond_failure_step = np.full(n_replicas, NOT_FAILED)

    def update(self, replicas: np.ndarray, positions: Tensor, step: int) -> None:
        """Check ``positions`` of the listed ``replicas`` (in that order) at ``step``."""
        too_far, stretched = (flags.cpu().numpy() for flags in
                              violations(positions, self.bonds, self.criteria))
        for failure_step, flags in ((self.distance_failure_step, too_far),
                                    (self.bond_failure_step, stretched)):
            newly = replicas[flags & (failure_step[replicas] == NOT_FAILED)]
            failure_step[newly] = step

    def failed_any(self, replicas: np.ndarray) -> np.ndarray:
        return ((self.distance_failure_step[replicas] != NOT_FAILED)
                | (self.bond_failure_step[replicas] != NOT_FAILED))

    def failed_both(self, replicas: np.ndarray) -> np.ndarray:
        return ((self.distance_failure_step[replicas] != NOT_FAILED)
                & (self.bond_failure_step[replicas] != NOT_FAILED))
