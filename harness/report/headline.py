"""The report's first lines: at each budget, which method is most accurate, and does ASTEROID
beat standard training and the best baseline, by how much and on what evidence?

For every sweep, molecule and budget with selected ASTEROID and standard trials, the most
accurate method (lowest mean test force MAE over seeds, kcal/mol/A) is named first, with what
it needs at inference. Each ASTEROID setting is then set against standard training on the
same model and against the best baseline; every "beats" carries the seed counts, the 95%
confidence interval of the reduction in MAE and Welch's t-test (``evidence``), and a
difference whose interval includes zero is said to be not established. Names are plain
(``names``); the paper's claim and, without a clear gain, what the record shows about why
(failed trials, the weights) follow.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from harness.report.arms import Arm, Comparison, Place, arms_by_place, best
from harness.report.evidence import THIN_SEEDS, p_text, welch
from harness.report.names import OWN_MODEL, budget_name, inference_note, model_name
from harness.report.paper import CLAIMED_REDUCTION, HEADLINE_REDUCTION
from harness.report.summary import UNIT, selected

LOW_MEAN_WEIGHT, HIGH_MEAN_WEIGHT = 0.1, 0.9
UNTRAINED_BY_STEPS = ("sgdml", "ani1ccx")


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _value(arm: Arm) -> str:
    return f"{arm.mean:.3f}" if math.isnan(arm.std) else f"{arm.mean:.3f} ± {arm.std:.3f}"


def versus(arm: Arm, other: Arm, other_name: str, with_model: bool) -> str:
    """``arm`` against ``other`` in one sentence: a claim only where the evidence holds it."""
    reduction = welch(other.values, arm.values)  # MAE(other) - MAE(arm): > 0 where arm is lower
    change = 1.0 - arm.mean / other.mean
    name = arm.name(with_model)
    numbers = (f"{_value(arm)} against {_value(other)} {UNIT} ({arm.n} and "
               f"{_seeds(other.n)}), {abs(change):.1%} {'lower' if change > 0 else 'higher'}")
    if not reduction.tested:
        why = "one seed per method" if min(arm.n, other.n) < 2 else "no spread over seeds"
        return f"{name} against {other_name}: {numbers}; with {why} no test is possible."
    interval = (f"reduction {reduction.estimate:.3f} {UNIT}, 95% CI {reduction.low:.3f} to "
                f"{reduction.high:.3f}, Welch t-test {p_text(reduction.p_value)}")
    if reduction.established:
        verb = "beats" if change > 0 else "is worse than"
        return f"{name} {verb} {other_name}: {numbers} ({interval})."
    verb = "is not clearly better than" if change > 0 else "does not beat"
    return (f"{name} {verb} {other_name}: {numbers} on average, but the 95% CI of the "
            f"reduction includes zero ({interval}).")


def _paper_claim(comparison: Comparison) -> str:
    reduction = comparison.relative_reduction
    if reduction <= 0:
        return ""
    claim = "meets" if reduction >= CLAIMED_REDUCTION else "falls short of"
    model = comparison.asteroid.model
    paper = HEADLINE_REDUCTION.get(model)
    reported = (f" (it reports {paper:.1%} for {model_name(model)} with DFT data, section 5.2)"
                if paper else "")
    return (f"The mean reduction {claim} the paper's claim of at least "
            f"{CLAIMED_REDUCTION:.0%} lower{reported}.")


def _why(comparison: Comparison) -> list[str]:
    """What the record shows when there is no clear gain: failures, weights near 0 or 1."""
    reasons = []
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


def comparison_sentences(comparison: Comparison, with_model: bool = False) -> list[str]:
    """ASTEROID against standard training, the paper's claim, why, then the baselines."""
    c = comparison
    sentences = [versus(c.asteroid, c.standard, "standard training", with_model)]
    sentences += [claim] if (claim := _paper_claim(c)) else []
    if not (c.versus_standard.established and c.relative_reduction >= CLAIMED_REDUCTION):
        sentences += _why(c)
    if c.baseline is not None:
        note = inference_note(c.baseline.method, c.baseline.level)
        sentences.append(versus(c.asteroid, c.baseline, f"the best baseline, "
                                f"{c.baseline.name(with_model)}"
                                + (f", which {note}" if note else ""), with_model))
    if c.standalone_baseline is not None:
        sentences.append(versus(c.asteroid, c.standalone_baseline,
                                f"{c.standalone_baseline.name(with_model)}, the best baseline "
                                "that needs no cheap labels at inference", with_model))
    return sentences


def _networks(arms: list[Arm]) -> set[str]:
    return {arm.model for arm in arms if arm.method not in OWN_MODEL}


def best_sentence(place: Place, arms: list[Arm]) -> str:
    """The most accurate method at one budget, and what it needs at inference."""
    networks = _networks(arms)
    top = best(arms)
    context = f"{place.sweep} sweep" + (f", {model_name(next(iter(networks)))}"
                                        if len(networks) == 1 else "")
    note = inference_note(top.method, top.level)
    return (f"At {budget_name(place.budget, place.accurate_level)} on {place.molecule} "
            f"({context}), the most accurate method is {top.name(len(networks) > 1)}: test "
            f"force MAE {_value(top)} {UNIT} over {_seeds(top.n)}"
            + (f", but it {note}" if note else "") + ".")


def _thin(arms: list[Arm]) -> list[str]:
    fewest = min(arm.n for arm in arms)
    if fewest >= THIN_SEEDS:
        return []
    return [f"The evidence is thin: as few as {_seeds(fewest)} per method (a spread over "
            f"fewer than {THIN_SEEDS} seeds is itself uncertain)."]


def paragraph(place: Place, arms: list[Arm], found: list[Comparison]) -> str:
    """One budget: the most accurate method, then each ASTEROID setting compared."""
    with_model = len(_networks(arms)) > 1
    sentences = [best_sentence(place, arms)]
    compared: list[Arm] = []
    for comparison in found:
        sentences += comparison_sentences(comparison, with_model)
        compared += [arm for arm in (comparison.asteroid, comparison.standard,
                                     comparison.baseline, comparison.standalone_baseline)
                     if arm is not None]
    return " ".join(sentences + _thin(compared))


def _overall(found: list[Comparison]) -> str:
    established = [c for c in found if c.versus_standard.established
                   and c.relative_reduction > 0]
    lower = [c for c in found if c.relative_reduction > 0]
    text = (f"ASTEROID beats standard training (the 95% CI of the reduction excludes zero) in "
            f"{len(established)} of {len(found)} comparisons; its mean force MAE is lower in "
            f"{len(lower)}")
    if lower:
        top = max(lower, key=lambda c: c.relative_reduction)
        text += (f" (largest mean reduction {top.relative_reduction:.1%}: "
                 f"{top.asteroid.name(True)} at "
                 f"{budget_name(top.place.budget, top.place.accurate_level)} on "
                 f"{top.place.molecule})")
    return text + "."


def headline(found: list[Comparison], trials: pd.DataFrame) -> list[str]:
    """The headline paragraphs, one per budget; an overall line when there are several."""
    if not found:
        counts = trials["status"].value_counts()
        states = ", ".join(f"{n} {state.lower()}" for state, n in counts.items()) or "none"
        return ["No headline: the record holds no finished, selected ASTEROID and standard "
                "trials at a common budget in one sweep, molecule and model "
                f"(trial runs: {states})."]
    paragraphs = [paragraph(place, arms, [c for c in found if c.place == place])
                  for place, arms in arms_by_place(trials).items()
                  if any(c.place == place for c in found)]
    overall = [_overall(found)] if len(found) > 1 else []
    return [*overall, *paragraphs, *undertraining_caveat(trials)]


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
        kept = int((compared.get("kept_stage1", pd.Series(dtype=float)) > 0).sum())
        lines.append(
            f"Caveat: in {hurt} of {tuned} selected ASTEROID trials fine-tuning ended with a "
            "higher validation loss than the trial's own stage 1 (the model of the accurate "
            "frames alone): there the pre-training on inaccurate labels hurt. "
            + (f"{kept} of them kept their stage-1 model (asteroid.keep_stage_one_when_better),"
               " so their numbers are of a model trained on the accurate frames alone."
               if kept else "Their fine-tuned models are the ones reported."))
    return lines


def _number(value: float) -> float | None:
    """JSON has no NaN: an untested difference is null."""
    return value if math.isfinite(value) else None


def headline_metrics(found: list[Comparison]) -> dict[str, Any]:
    """metrics.json: the headline numbers by setting (for ``dvc metrics show``)."""
    metrics = {}
    for c in found:
        reduction = c.versus_standard
        metrics[c.key] = {
            "budget": c.place.budget, "standard_force_mae": c.standard.mean,
            "asteroid_force_mae": c.asteroid.mean, "relative_reduction": c.relative_reduction,
            "standard_seeds": c.standard.n, "asteroid_seeds": c.asteroid.n,
            "reduction_ci_low": _number(reduction.low),
            "reduction_ci_high": _number(reduction.high),
            "welch_p_value": _number(reduction.p_value)}
    return metrics
