"""Gamma selection, the paper's protocol: of candidates that differ only in gamma, the one of
lowest validation loss.

Gamma is the temperature of the bias weights w = exp(-B / gamma). Each candidate is a model
trained with one gamma; its validation loss is the best validation loss of the stage whose
weights it keeps (for ASTEROID the stage-3 run of the fine-tuning rate chosen on validation,
for no_ft stage 2: Eq. 1 without weights on the accurate validation frames, see
``methods.validation_loss`` and ``MethodOutcome.validation_loss``). The test frames never
enter the choice. A candidate that failed or whose loss is not finite is never chosen, and
when none is finite nothing is chosen. Exact ties go to the smaller gamma, so the choice does
not depend on the order in which the candidates ran.

``choose_gamma`` is the one place this happens: ``harness train`` with a gamma grid chooses
among the gammas of its run (``methods.asteroid``), a sweep among the trials of one cell and
seed, each trained with one gamma (``harness.sweeps.finalize``). Stages are seeded by name, so
both see the same losses and choose the same gamma. Keeping stage 1's model when the chosen
fine-tuning is worse on validation (``asteroid.keep_stage_one_when_better``) comes after the
choice and compares with the one stage 1 all gammas share, so it too is the same in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GammaCandidate:
    """A model trained with one gamma (None: a method without bias weights); validation loss
    None when its training failed."""

    key: str
    gamma: float | None
    validation_loss: float | None


@dataclass(frozen=True)
class GammaChoice:
    """The chosen candidate (None when none has a finite loss) and every finite loss by
    gamma."""

    chosen_key: str | None
    chosen_gamma: float | None
    validation_loss_by_gamma: dict[float, float]


def choose_gamma(candidates: list[GammaCandidate]) -> GammaChoice:
    """Lowest finite validation loss; ties go to the smaller gamma (see the module)."""
    finished = [candidate for candidate in candidates if candidate.validation_loss is not None
                and math.isfinite(candidate.validation_loss)]
    losses = {candidate.gamma: candidate.validation_loss for candidate in finished
              if candidate.gamma is not None}
    if not finished:
        return GammaChoice(None, None, losses)
    best = min(finished, key=lambda candidate: (candidate.validation_loss,
                                                candidate.gamma or 0.0))
    return GammaChoice(best.key, best.gamma, losses)
