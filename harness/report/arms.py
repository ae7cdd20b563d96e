"""The headline's data: each method setting's selected trials at one budget, and the ASTEROID
settings set beside standard training and the best baseline (pure: frames in, data out).

An ``Arm`` is one method (with its model, cheap level and cost ratio) at one budget of one
sweep and molecule: the test force MAE (kcal/mol/A) of the trial each seed selected. Budgets
are in accurate-label equivalents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.report.evidence import Difference, welch
from harness.report.names import NEEDS_CHEAP_AT_INFERENCE, OWN_MODEL, setting_name
from harness.report.summary import ASTEROID, STANDARD, number_text, selected, sort_rows
from harness.report.tables import BASELINES

PLACE = ["sweep", "molecule", "budget"]
SETTING = ["method", "model", "inaccurate_level", "cost_ratio"]


@dataclass(frozen=True)
class Arm:
    """One method setting's test force MAE per seed at one budget."""

    method: str
    model: str
    level: str
    cost_ratio: str
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (NaN with one seed)."""
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else math.nan

    @property
    def n(self) -> int:
        return len(self.values)

    def name(self, with_model: bool = False) -> str:
        """The plain name, with the network's model where several are compared."""
        return setting_name(self.method, self.level, self.cost_ratio,
                            self.model if with_model else "")

    @property
    def needs_cheap_labels(self) -> bool:
        return self.method in NEEDS_CHEAP_AT_INFERENCE


@dataclass(frozen=True)
class Place:
    """Where arms are compared: one budget of one sweep and molecule."""

    sweep: str
    molecule: str
    budget: float
    accurate_level: str


@dataclass(frozen=True)
class Comparison:
    """An ASTEROID setting beside standard training (same model) and the best baselines."""

    place: Place
    asteroid: Arm
    standard: Arm
    baseline: Arm | None  # the lowest mean of the baselines
    standalone_baseline: Arm | None  # the best one needing no cheap labels, if that differs
    failed_asteroid_trials: int
    mean_weight: float

    @property
    def relative_reduction(self) -> float:
        return 1.0 - self.asteroid.mean / self.standard.mean

    @property
    def versus_standard(self) -> Difference:
        """MAE(standard) - MAE(ASTEROID): positive where ASTEROID is lower."""
        return welch(self.standard.values, self.asteroid.values)

    @property
    def key(self) -> str:
        a, p = self.asteroid, self.place
        ratio = f"/r{a.cost_ratio}" if a.cost_ratio else ""
        return f"{p.sweep}/{p.molecule}/{a.model}/{a.level}{ratio}/b{number_text(p.budget)}"


def arms_by_place(trials: pd.DataFrame) -> dict[Place, list[Arm]]:
    """Every selected method setting per sweep, molecule and budget, in the paper's order."""
    chosen = sort_rows(selected(trials))
    found: dict[Place, list[Arm]] = {}
    for (sweep, molecule, budget), at_place in chosen.groupby(PLACE, sort=False):
        levels = at_place["accurate_level"][at_place["accurate_level"] != ""]
        place = Place(sweep, molecule, float(budget), str(levels.iloc[0]) if len(levels) else "")
        found[place] = [Arm(*setting, tuple(float(v) for v in runs["force_mae"]))
                        for setting, runs in at_place.groupby(SETTING, sort=False)]
    return found


def best(arms: list[Arm]) -> Arm:
    return min(arms, key=lambda arm: arm.mean)


def _baselines(arms: list[Arm], model: str) -> tuple[Arm | None, Arm | None]:
    """The best baseline on ``model`` (or with its own model) and, when that one needs cheap
    labels at inference, the best that does not."""
    candidates = [arm for arm in arms if arm.method in BASELINES
                  and (arm.method in OWN_MODEL or arm.model == model)]
    if not candidates:
        return None, None
    top = best(candidates)
    alone = [arm for arm in candidates if not arm.needs_cheap_labels]
    return top, (best(alone) if top.needs_cheap_labels and alone else None)


def comparisons(trials: pd.DataFrame, bias_statistics: pd.DataFrame) -> list[Comparison]:
    """One comparison per ASTEROID setting and budget that standard training (same sweep,
    molecule and model, no cheap level) also reached."""
    found = []
    for place, arms in arms_by_place(trials).items():
        for asteroid in (arm for arm in arms if arm.method == ASTEROID):
            standard = [arm for arm in arms if arm.method == STANDARD and arm.level == ""
                        and arm.model == asteroid.model]
            if not standard:
                continue
            attempted = trials[(trials["method"] == ASTEROID) & (trials["sweep"] == place.sweep)
                               & (trials["molecule"] == place.molecule)
                               & (trials["model"] == asteroid.model)
                               & (trials["inaccurate_level"] == asteroid.level)
                               & (trials["cost_ratio"] == asteroid.cost_ratio)
                               & (trials["budget"] == place.budget)]
            chosen = attempted[attempted["selected"]]["run_id"]
            weights = bias_statistics[bias_statistics["run_id"].isin(chosen)]["weight_mean"]
            found.append(Comparison(
                place, asteroid, standard[0], *_baselines(arms, asteroid.model),
                int((attempted["status"] == "FAILED").sum()),
                float(weights.mean()) if weights.notna().any() else math.nan))
    return found
