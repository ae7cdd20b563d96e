"""The one in-memory representation of labelled (or unlabeled) molecular frames.

Internal units are the paper's: energies in kcal/mol, positions in Angstrom, forces in
kcal/mol/Angstrom. Readers convert on the way in (``harness.data.units``); nothing downstream
ever sees another unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from harness.errors import DataError

ENERGY_UNIT = "kcal/mol"
LENGTH_UNIT = "Angstrom"
FORCE_UNIT = "kcal/mol/Angstrom"


@dataclass(frozen=True)
class FrameSet:
    """Frames of one molecule at one level of theory.

    ``frame_ids`` identify configurations within their source trajectory (so frames of two
    levels computed on the same geometry share an id); -1 where unknown. ``energies`` and
    ``forces`` are None for unlabeled configurations (Boltzmann samples for score matching).
    ``seconds_per_label`` is the measured CPU time of one label, used for cost ratios.
    """

    molecule: str
    level: str
    atomic_numbers: np.ndarray
    positions: np.ndarray
    energies: np.ndarray | None
    forces: np.ndarray | None
    source: str
    frame_ids: np.ndarray | None = None
    seconds_per_label: float | None = None
    temperature_K: float | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "atomic_numbers", np.asarray(self.atomic_numbers, dtype=np.int64))
        object.__setattr__(self, "positions", np.asarray(self.positions, dtype=np.float64))
        if self.frame_ids is None:
            object.__setattr__(self, "frame_ids", np.full(len(self.positions), -1, dtype=np.int64))
        else:
            object.__setattr__(self, "frame_ids", np.asarray(self.frame_ids, dtype=np.int64))
        if self.energies is not None:
            object.__setattr__(
                self, "energies", np.asarray(self.energies, dtype=np.float64).reshape(-1)
            )
        if self.forces is not None:
            object.__setattr__(self, "forces", np.asarray(self.forces, dtype=np.float64))
        self._validate()

    def _validate(self) -> None:
        z, pos = self.atomic_numbers, self.positions
        if z.ndim != 1 or len(z) == 0:
            raise DataError(self.source, "atomic_numbers",
                            f"expected shape (n_atoms,), got {z.shape}")
        if np.any(z < 1) or np.any(z > 118):
            raise DataError(self.source, "atomic_numbers", "values must be in 1..118")
        n_atoms = len(z)
        if pos.ndim != 3 or pos.shape[1:] != (n_atoms, 3):
            raise DataError(
                self.source, "positions",
                f"expected shape (n_frames, {n_atoms}, 3), got {pos.shape}",
            )
        n_frames = len(pos)
        _require_finite(self.source, "positions", pos)
        if self.frame_ids.shape != (n_frames,):
            raise DataError(
                self.source, "frame_ids",
                f"expected shape ({n_frames},), got {self.frame_ids.shape}",
            )
        if (self.energies is None) != (self.forces is None):
            raise DataError(
                self.source,
                "energies" if self.energies is None else "forces",
                "energies and forces must both be present or both be absent",
            )
        if self.energies is not None:
            if self.energies.shape != (n_frames,):
                raise DataError(
                    self.source, "energies",
                    f"expected {n_frames} values, got {self.energies.shape}",
                )
            _require_finite(self.source, "energies", self.energies)
        if self.forces is not None:
            if self.forces.shape != pos.shape:
                raise DataError(
                    self.source, "forces", f"expected shape {pos.shape}, got {self.forces.shape}"
                )
            _require_finite(self.source, "forces", self.forces)
        if self.seconds_per_label is not None and not self.seconds_per_label >= 0:
            raise DataError(self.source, "seconds_per_label", "must be a non-negative number")
        if self.temperature_K is not None and not self.temperature_K > 0:
            raise DataError(self.source, "temperature_K", "must be a positive number of kelvin")

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def n_atoms(self) -> int:
        return len(self.atomic_numbers)

    @property
    def is_labelled(self) -> bool:
        return self.forces is not None

    def subset(self, indices: np.ndarray | list[int]) -> FrameSet:
        """The frames at ``indices`` (in that order), with all metadata kept."""
        idx = np.asarray(indices, dtype=np.int64)
        return replace(
            self,
            positions=self.positions[idx],
            energies=None if self.energies is None else self.energies[idx],
            forces=None if self.forces is None else self.forces[idx],
            frame_ids=self.frame_ids[idx],
        )

    def without_labels(self) -> FrameSet:
        """The same configurations as unlabeled samples (the score-matching setting)."""
        return replace(self, energies=None, forces=None, level=f"{self.level}-unlabeled")


def _require_finite(source: str, name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(values), -1).any(axis=1))[0][0])
        raise DataError(source, name,
                        f"{int(bad.sum())} NaN or inf values (first in frame {first})")


def describe_atom_mismatch(reference: np.ndarray, other: np.ndarray) -> str:
    """What differing atomic numbers mean: another molecule, or the same atoms reordered."""
    if sorted(reference.tolist()) == sorted(other.tolist()):
        return "the same atoms listed in another order; write them in one order"
    return "two molecules mixed"


@dataclass(frozen=True)
class MultiFidelityDataset:
    """Several levels of theory for one molecule, e.g. CCSD accurate and xTB inaccurate."""

    molecule: str
    levels: dict[str, FrameSet]
    source: str

    def __post_init__(self) -> None:
        reference: FrameSet | None = None
        for name, frames in self.levels.items():
            if reference is None:
                reference = frames
                continue
            if not np.array_equal(frames.atomic_numbers, reference.atomic_numbers):
                raise DataError(
                    frames.source,
                    "atomic_numbers",
                    f"level '{name}' has atoms {frames.atomic_numbers.tolist()} but level "
                    f"'{reference.level}' has {reference.atomic_numbers.tolist()}: "
                    + describe_atom_mismatch(reference.atomic_numbers, frames.atomic_numbers),
                )

    def __getitem__(self, level: str) -> FrameSet:
        if level not in self.levels:
            raise DataError(self.source, "level",
                            f"unknown level '{level}'; have {sorted(self.levels)}")
        return self.levels[level]
