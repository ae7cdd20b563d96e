"""``harness bench decays``: whether each plateau decay of the learning rate came at a plateau.

A stage halves its learning rate after ``plateau_patience`` steps without a relatively better
validation loss (``harness/train/config.py``). A halving that comes while the loss still falls
steadily slows the descent; one that comes where the loss has stalled speeds it up (smaller
steps settle where larger ones bounced). Every finished stage records its validation loss and
learning rate at each validation, so the recorded histories tell which, without training: for
every decay, the relative fall of the best validation loss in the ``window`` steps before it and
in as many steps after it. Used to judge the default plateau rule (``results/README.md``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.bench.early_stopping import recorded_stages, stage_kind

DEFAULT_WINDOW = 500
RATE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Decay:
    """One recorded halving (or other fall) of a stage's learning rate, at ``step``."""

    trial: str
    stage: str
    step: int
    first: bool  # the stage's first decay, from its starting rate
    fall_before: float  # relative fall of the best validation loss in the window before
    fall_after: float  # ... and in the window after

    @property
    def sped_up(self) -> bool:
        return self.fall_after > self.fall_before


def _best_until(history: list[dict], step: float) -> float:
    return min(record["validation_loss"] for record in history if record["step"] <= step)


def stage_decays(trial: str, stage: dict, window: int = DEFAULT_WINDOW) -> list[Decay]:
    """The decays of one recorded stage with a full window of history on both sides."""
    history = [record for record in stage.get("history") or []
               if "learning_rate" in record and "step" in record]
    decays, seen = [], 0
    for previous, record in zip(history, history[1:], strict=False):
        if record["learning_rate"] >= previous["learning_rate"] * (1 - RATE_TOLERANCE):
            continue
        seen += 1
        step = record["step"]
        if step - window < history[0]["step"] or step + window > history[-1]["step"]:
            continue
        before, at, after = (_best_until(history, point)
                             for point in (step - window, step, step + window))
        decays.append(Decay(trial, stage["name"], int(step), seen == 1,
                            1 - at / before, 1 - after / at))
    return decays


def folder_decays(folders: Iterable[Path], window: int = DEFAULT_WINDOW) -> list[Decay]:
    """Every decay of every stage of every ``results.json`` under ``folders``."""
    return [decay for trial, stage in recorded_stages(folders)
            for decay in stage_decays(trial, stage, window)]


def _share(decays: list[Decay]) -> str:
    sped = sum(decay.sped_up for decay in decays)
    return f"{sped} of {len(decays)}" if decays else "none"


def format_summary(decays: list[Decay], window: int) -> list[str]:
    """Per kind of stage: how the best validation loss fell before and after its decays."""
    lines = [f"window {window} steps: {len(decays)} decays with a full window on both sides"]
    for kind in sorted({stage_kind(decay.stage) for decay in decays}):
        group = [decay for decay in decays if stage_kind(decay.stage) == kind]
        first = [decay for decay in group if decay.first]
        lines.append(
            f"  {kind}: {len(group)} decays; median fall of the best validation loss "
            f"{statistics.median(d.fall_before for d in group):.2%} before, "
            f"{statistics.median(d.fall_after for d in group):.2%} after; faster after in "
            f"{_share(group)} (first decays of a stage: {_share(first)}; median "
            + (f"{statistics.median(d.fall_before for d in first):.2%} before, "
               f"{statistics.median(d.fall_after for d in first):.2%} after)" if first
               else "-)"))
    return lines
