"""The report's first lines: does ASTEROID beat standard training at the smallest budget?

For every sweep, molecule, model, inaccurate level and cost ratio with selected ASTEROID and
standard trials, the smallest budget both reached is compared by the mean test force MAE over
seeds (kcal/mol/A); the relative reduction is 1 - MAE(ASTEROID) / MAE(standard). The sentence
says plainly whether there is a gain, how large, against the paper's claim, and, without a
clear gain, what the record shows about why (spread over seeds, failed trials, the weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.report.paper import CLAIMED_REDUCTION, HEADLINE_REDUCTION
from harness.report.summary import ASTEROID, STANDARD, UNIT, number_text, selected, sort_rows

LOW_MEAN_WEIGHT, HIGH_MEAN_WEIGHT = 0.1, 0.9
UNTRAINED_BY_STEPS = ("sgdml", "ani1ccx")


@dataclass(frozen=True)
class Comparison:
    """Standard against ASTEROID at one budget; means, stds and seed counts of force MAE."""

    sweep: str
    molecule: str
    model: str
    inaccurate_level: str
    cost_ratio: str
    budget: float
    standard_mean: float
    standard_std: float
    standard_n: int
    asteroid_mean: float
    asteroid_std: float
    asteroid_n: int
    failed_asteroid_trials: int
    mean_weight: float

    @property
    def relative_reduction(self) -> float:
        return 1.0 - self.asteroid_mean / self.standard_mean

    @property
    def within_noise(self) -> bool:
        spread = max((std for std in (self.standard_std, self.asteroid_std)
                      if not math.isnan(std)), default=math.nan)
        return abs(self.standard_mean - self.asteroid_mean) <= spread

    @property
    def key(self) -> str:
        ratio = f"/r{self.cost_ratio}" if self.cost_ratio else ""
        return (f"{self.sweep}/{self.molecule}/{self.model}/{self.inaccurate_level}{ratio}"
                f"/b{number_text(self.budget)}")


def _mean_std_n(values: pd.Series) -> tuple[float, float, int]:
    return float(values.mean()), float(values.std()), int(values.count())


def comparisons(trials: pd.DataFrame, bias_statistics: pd.DataFrame) -> list[Comparison]:
    """One comparison per setting that has both methods at a common budget."""
    chosen = sort_rows(selected(trials))
    found = []
    keys = ["sweep", "molecule", "model", "inaccurate_level", "cost_ratio"]
    for (sweep, molecule, model, level, ratio), asteroid in chosen[
            chosen["method"] == ASTEROID].groupby(keys, sort=False):
        standard = chosen[(chosen["method"] == STANDARD) & (chosen["inaccurate_level"] == "")
                          & (chosen["sweep"] == sweep) & (chosen["molecule"] == molecule)
                          & (chosen["model"] == model)]
        common = sorted(set(asteroid["budget"]) & set(standard["budget"]))
        if not common:
            continue
        budget = float(common[0])
        attempted = trials[(trials["method"] == ASTEROID) & (trials["sweep"] == sweep)
                           & (trials["molecule"] == molecule) & (trials["model"] == model)
                           & (trials["inaccurate_level"] == level)
                           & (trials["cost_ratio"] == ratio) & (trials["budget"] == budget)]
        weights = bias_statistics[bias_statistics["run_id"].isin(
            asteroid[asteroid["budget"] == budget]["run_id"])]["weight_mean"]
        found.append(Comparison(
            sweep, molecule, model, level, ratio, budget,
            *_mean_std_n(standard[standard["budget"] == budget]["force_mae"]),
            *_mean_std_n(asteroid[asteroid["budget"] == budget]["force_mae"]),
            int((attempted["status"] == "FAILED").sum()),
            float(weights.mean()) if weights.notna().any() else math.nan))
    return found


def _value(mean: float, std: float) -> str:
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def _why(comparison: Comparison) -> list[str]:
    reasons = []
    if min(comparison.standard_n, comparison.asteroid_n) < 2:
        reasons.append("With a single seed there is no spread to judge the difference by.")
    elif comparison.within_noise:
        reasons.append("The difference is within one standard deviation over seeds.")
    if comparison.failed_asteroid_trials:
        reasons.append(f"{comparison.failed_asteroid_trials} ASTEROID trial(s) at this budget "
                       "failed (see failure_reason in MLflow).")
    if comparison.mean_weight < LOW_MEAN_WEIGHT:
        reasons.append(f"The selected gammas gave a mean weight of "
                       f"{comparison.mean_weight:.2f}: stage 2 learned from few inaccurate "
                       "frames.")
    elif comparison.mean_weight > HIGH_MEAN_WEIGHT:
        reasons.append(f"The selected gammas gave a mean weight of "
                       f"{comparison.mean_weight:.2f}: bias-aware training was close to plain "
                       "pre-training on the inaccurate labels.")
    return reasons


def sentence(comparison: Comparison) -> str:
    """The verdict for one setting, in words."""
    c = comparison
    setting = (f"{c.sweep}: {c.molecule}, {c.model}, inaccurate level {c.inaccurate_level}"
               + (f", cost ratio {c.cost_ratio}" if c.cost_ratio else "")
               + f"; {c.asteroid_n} and {c.standard_n} seeds")
    numbers = (f"test force MAE {_value(c.asteroid_mean, c.asteroid_std)} against "
               f"{_value(c.standard_mean, c.standard_std)} {UNIT}")
    budget = f"the smallest budget ({number_text(c.budget)} accurate-label equivalents)"
    reduction = c.relative_reduction
    if reduction > 0:
        claim = "meets" if reduction >= CLAIMED_REDUCTION else "falls short of"
        paper = HEADLINE_REDUCTION.get(c.model)
        reported = (f" (it reports {paper:.1%} for {c.model} with DFT data, section 5.2)"
                    if paper else "")
        text = (f"ASTEROID beats standard training at {budget}: {numbers}, "
                f"{reduction:.1%} lower ({setting}). This {claim} the paper's claim of at "
                f"least {CLAIMED_REDUCTION:.0%} lower{reported}.")
        extra = _why(c) if reduction < CLAIMED_REDUCTION else []
    else:
        text = (f"ASTEROID does not beat standard training at {budget}: {numbers}, "
                f"{-reduction:.1%} higher ({setting}).")
        extra = _why(c)
    return " ".join([text, *extra])


def headline(found: list[Comparison], trials: pd.DataFrame) -> list[str]:
    """The headline paragraphs: an overall line when there are several settings."""
    if not found:
        counts = trials["status"].value_counts()
        states = ", ".join(f"{n} {state.lower()}" for state, n in counts.items()) or "none"
        return ["No headline: the record holds no finished, selected ASTEROID and standard "
                "trials at a common budget in one sweep, molecule and model "
                f"(trial runs: {states})."]
    sentences = [sentence(comparison) for comparison in found]
    caveat = undertraining_caveat(trials)
    if len(found) == 1:
        return sentences + caveat
    wins = [c for c in found if c.relative_reduction > 0]
    overall = (f"ASTEROID beats standard training at the smallest budget in {len(wins)} of "
               f"{len(found)} settings")
    if wins:
        best = max(wins, key=lambda c: c.relative_reduction)
        overall += f" (largest reduction {best.relative_reduction:.1%}, {best.key})"
    return [overall + ".", *sentences, *caveat]


def undertraining_caveat(trials: pd.DataFrame) -> list[str]:
    """Warnings when selected trials of trained networks are not converged or fine-tuning hurt.

    A stage stopped by its step or epoch cap within a plateau patience of its best validation
    loss was still improving: the record then measures what a fixed number of optimiser steps
    buys, not converged accuracy. Every trained network counts (standard, every ASTEROID stage,
    the ablations, score matching, Delta-ML, fine-tuned ANI); sGDML and zero-shot ANI do not
    train by steps.
    """
    chosen = selected(trials)
    compared = chosen[~chosen["method"].isin(UNTRAINED_BY_STEPS)]
    lines = []
    capped = int((compared["stages_still_improving"] > 0).sum())
    if capped:
        lines.append(
            f"Caveat: in {capped} of {len(compared)} selected trials of trained networks at "
            "least one training stage hit its step or epoch cap while its validation loss was "
            "still falling (not converged). Those models are under-trained: the comparison "
            "measures what a fixed number of optimiser steps buys, not converged accuracy. "
            "Raise the schedules' max_steps for converged numbers.")
    worse = compared.get("fine_tuning_worse", pd.Series(dtype=float))
    tuned = int(worse.notna().sum())
    hurt = int((worse > 0).sum())
    if hurt:
        lines.append(
            f"Caveat: in {hurt} of {tuned} selected ASTEROID trials fine-tuning ended with a "
            "higher validation loss than the trial's own stage 1 (the model of the accurate "
            "frames alone): there the pre-training on inaccurate labels hurt.")
    return lines


def headline_metrics(found: list[Comparison]) -> dict[str, Any]:
    """metrics.json: the headline numbers by setting (for ``dvc metrics show``)."""
    return {c.key: {"budget": c.budget, "standard_force_mae": c.standard_mean,
                    "asteroid_force_mae": c.asteroid_mean,
                    "relative_reduction": c.relative_reduction,
                    "standard_seeds": c.standard_n, "asteroid_seeds": c.asteroid_n}
            for c in found}
