"""Stage 1 of ASTEROID trained once per (cell, seed) instead of once per gamma.

Stage 1 (theta_0 on the accurate frames) does not depend on gamma. Its finished checkpoint is
published under ``<state>/stage1/<hash>.pt``, where the hash covers the whole training config
except its name and gammas, and the code and data versions, so only a trial that would train
the very same stage 1 with the same code and data reuses it.
A trial adopts it by copying it to its own stage 1 checkpoint before training:
the trainer then resumes a finished stage (model, best state and RNG states restored) and goes
straight to the bias and stage 2, with the results an uninterrupted run would give.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from harness.train.checkpoint import checkpoint_folder, stage_checkpoint
from harness.train.config import BIAS_AWARE_METHODS
from harness.train.methods import STAGE_ONE
from harness.train.trainer import stage_finished
from harness.versions import trial_versions


def stage_one_checkpoint(trial_folder: Path) -> Path:
    """Where the trial's training keeps (and resumes) its stage 1."""
    return stage_checkpoint(checkpoint_folder(trial_folder), STAGE_ONE)


def stage_one_key(config: dict[str, Any]) -> str:
    """Hash of what stage 1 depends on: the config without name, gammas and bookkeeping, and
    the code and data it runs with."""
    content = copy.deepcopy(config)
    for bookkeeping in ("name", "output_dir", "progress", "tracking"):
        content.pop(bookkeeping, None)
    content.get("asteroid", {}).pop("gammas", None)
    content["versions"] = trial_versions(config).as_tags()
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def shared_checkpoint(state_dir: Path, config: dict[str, Any]) -> Path:
    return state_dir / "stage1" / f"{stage_one_key(config)}.pt"


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def adopt(config: dict[str, Any], trial_folder: Path, state_dir: Path) -> bool:
    """Give a trial that has not started stage 1 the shared, finished stage 1; True if so."""
    if config["method"] not in BIAS_AWARE_METHODS:
        return False
    own, shared = stage_one_checkpoint(trial_folder), shared_checkpoint(state_dir, config)
    if own.exists() or not shared.exists():
        return False
    _copy_atomically(shared, own)
    return True


def publish(config: dict[str, Any], trial_folder: Path, state_dir: Path) -> bool:
    """Share a trial's stage 1 once it has finished (stopped early or at its limit)."""
    if config["method"] not in BIAS_AWARE_METHODS:
        return False
    own, shared = stage_one_checkpoint(trial_folder), shared_checkpoint(state_dir, config)
    if shared.exists() or not own.exists():
        return False
    if not stage_finished(own):
        return False
    _copy_atomically(own, shared)
    return True
