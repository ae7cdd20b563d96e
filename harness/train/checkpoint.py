"""Atomic checkpoints of plain tensors and python values, and the RNG states they carry.

A checkpoint is written to a temporary file and renamed over the old one, so a run killed at
any instant leaves either the previous or the new checkpoint, never half of one. Restoring the
RNG states of python, numpy and torch (and the trainer's shuffling generator) makes a resumed
run replay exactly what an uninterrupted run would have done.

Checkpoints are loaded with ``weights_only=True``: they hold tensors, numbers, strings, lists
and dicts only (numpy's RNG state is stored as a tensor), so a planted file cannot run code.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.errors import DataError

CHECKPOINT_FOLDER = "checkpoints"  # in a run folder


def checkpoint_folder(run_folder: str | Path) -> Path:
    """Where a run keeps its stage checkpoints (and files a stage keeps beside them)."""
    return Path(run_folder) / CHECKPOINT_FOLDER


def stage_checkpoint(checkpoint_dir: str | Path, stage: str) -> Path:
    """The checkpoint of the stage named ``stage``; the stage resumes from it when it exists."""
    return Path(checkpoint_dir) / f"{stage}.pt"


def save_checkpoint(path: Path, content: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "wb") as handle:
        torch.save(content, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when there is none yet.

    A file holding anything but tensors and plain python values is refused (DataError).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0]
        raise DataError(str(path), "<checkpoint>",
                        f"refused: holds more than tensors and plain values ({first_line})"
                        ) from None


def rng_states() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss),
                  float(cached_gaussian)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss,
                         cached_gaussian))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
