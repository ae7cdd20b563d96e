"""Stage 1 of ASTEROID trained once per (cell, seed) instead of once per gamma.

Stage 1 (theta_0 on the accurate frames, or each member of an ensemble of them) does not
depend on gamma. Each of its finished checkpoints is published under
``<state>/stage1/<hash>/<stage>.pt``, where the hash covers the whole training config except
its name, bookkeeping and the settings that act only on B once stage 1 has trained
(``AFTER_STAGE_ONE``), and the code and data versions, so only a trial that would train the very
same stage 1 with the same code and data reuses it. The cache holds models, not B: B is
computed again from them, so the gamma grid and scale, the reduction of B, an ensemble's
spread discount and per-frame or per-atom weights may differ between the trials that share a
stage 1.
A trial adopts each checkpoint by copying it to its own before training: the trainer then
resumes a finished stage (model, best state and RNG states restored) and goes straight to the
bias and stage 2, with the results an uninterrupted run would give. An ensemble's members are
shared one by one, so a trial adopts the members others finished and trains the rest.
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
from harness.train.config import BIAS_AWARE_METHODS, AsteroidSettings
from harness.train.methods import stage_one_names
from harness.train.trainer import stage_finished
from harness.versions import trial_versions

# The asteroid settings applied to the stage-1 models' forces, never to their training.
AFTER_STAGE_ONE = ("gammas", "gamma_scale", "bias_reduction", "spread_discount",
                   "weight_resolution", "keep_stage_one_when_better")


def stage_one_checkpoints(config: dict[str, Any], trial_folder: Path) -> dict[str, Path]:
    """Where the trial's training keeps (and resumes) each stage-1 model, by stage name."""
    settings = AsteroidSettings.model_validate(config.get("asteroid", {}))
    return {name: stage_checkpoint(checkpoint_folder(trial_folder), name)
            for name in stage_one_names(settings)}


def stage_one_key(config: dict[str, Any]) -> str:
    """Hash of what stage 1 depends on: the config without name, bookkeeping and the settings
    applied after stage 1, and the code and data it runs with."""
    content = copy.deepcopy(config)
    for bookkeeping in ("name", "output_dir", "progress", "tracking"):
        content.pop(bookkeeping, None)
    for after in AFTER_STAGE_ONE:
        content.get("asteroid", {}).pop(after, None)
    content["versions"] = trial_versions(config).as_tags()
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def shared_checkpoint(state_dir: Path, config: dict[str, Any], stage: str) -> Path:
    return state_dir / "stage1" / stage_one_key(config) / f"{stage}.pt"


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def adopt(config: dict[str, Any], trial_folder: Path, state_dir: Path) -> bool:
    """Give a trial each shared, finished stage-1 model it has not started; True if any."""
    if config["method"] not in BIAS_AWARE_METHODS:
        return False
    adopted = False
    for stage, own in stage_one_checkpoints(config, trial_folder).items():
        shared = shared_checkpoint(state_dir, config, stage)
        if shared.exists() and not own.exists():
            _copy_atomically(shared, own)
            adopted = True
    return adopted


def publish(config: dict[str, Any], trial_folder: Path, state_dir: Path) -> bool:
    """Share each of a trial's stage-1 models that has finished (stopped early or at its
    limit) and is not shared yet; True if any."""
    if config["method"] not in BIAS_AWARE_METHODS:
        return False
    published = False
    for stage, own in stage_one_checkpoints(config, trial_folder).items():
        shared = shared_checkpoint(state_dir, config, stage)
        if not shared.exists() and own.exists() and stage_finished(own):
            _copy_atomically(own, shared)
            published = True
    return published
