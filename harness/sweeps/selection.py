"""Gamma selection, the paper's protocol: per cell and seed, the gamma of lowest validation loss.

Pure functions over finished trials; the test set never enters the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrialOutcome:
    """What selection needs of a finished trial (validation loss None: it failed)."""

    trial_key: str
    gamma: float | None
    validation_loss: float | None


@dataclass(frozen=True)
class GammaChoice:
    """The chosen trial of a group (None when every gamma failed) and every gamma's loss."""

    chosen_key: str | None
    chosen_gamma: float | None
    validation_loss_by_gamma: dict[float, float]


def choose_gamma(outcomes: list[TrialOutcome]) -> GammaChoice:
    """Lowest finite validation loss; ties go to the smaller gamma, so the choice is stable."""
    finished = [outcome for outcome in outcomes if outcome.validation_loss is not None
                and math.isfinite(outcome.validation_loss)]
    losses = {outcome.gamma: outcome.validation_loss for outcome in finished
              if outcome.gamma is not None}
    if not finished:
        return GammaChoice(None, None, losses)
    best = min(finished, key=lambda outcome: (outcome.validation_loss, outcome.gamma or 0.0))
    return GammaChoice(best.trial_key, best.gamma, losses)


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0
