"""Deterministic expansion of a spec into cells and trials; nothing here trains or writes.

A cell is (dataset and levels, model, method, budget, cost ratio); a trial is one training
config: a cell at one seed and, for the bias-aware methods, one gamma. Keys are readable
paths such as ``ethanol/ccsd+xtb/egnn/asteroid/b25/rmeasured/g0.5/s0``; the same spec and
profile always give the same keys, configs and order.

Budgets are accurate-label equivalents, split by ``harness.data.budget``. Methods with
labelled inaccurate frames train on ``budget - inaccurate_share`` accurate frames and let the
training config turn the budget into inaccurate frames (``data.budget``, ``data.cost_ratio``;
capped to what the level holds); Delta-ML buys the same accurate frames and one cheap label
for each. Score matching's unlabeled frames are free, so it trains on ``budget`` accurate
frames, as does every method without inaccurate data. Trials run gamma-major (every cell's
first gamma first) so that the gammas of one cell and seed rarely run at once and can share
stage 1.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from harness.data.budget import accurate_frames
from harness.errors import ConfigError
from harness.mlflow_record import Tags, number_tag, setting_tags
from harness.sweeps.spec import DatasetSpec, LevelSpec, MethodSpec, ModelSpec, SweepSpec, deep_merge
from harness.train.config import (
    ACCURATE_ONLY_METHODS,
    BIAS_AWARE_METHODS,
    METHODS_WITH_INACCURATE_LABELS,
    MULTI_MOLECULE_METHOD,
    parse_config,
)

UNLABELED_METHODS = ("score_matching",)


@dataclass(frozen=True)
class Cell:
    """One point of the grid without seed and gamma; a parent run in MLflow."""

    key: str
    molecule: str
    model: str
    method: str
    budget: float
    cost_ratio: float | str | None
    accurate_level: str
    inaccurate_level: str | None

    def tags(self) -> dict[str, str]:
        """The record's cell tags ("" where a field does not apply)."""
        return {**setting_tags(self.molecule, self.model, self.method, self.budget,
                               self.cost_ratio, self.accurate_level, self.inaccurate_level),
                Tags.CELL_KEY: self.key}


@dataclass(frozen=True)
class Trial:
    """One training config: a cell at one seed (and one gamma for bias-aware methods)."""

    key: str
    cell: Cell
    seed: int
    gamma: float | None
    config: dict[str, Any]

    @property
    def group_key(self) -> str:
        """Trials that differ only in gamma: the gamma is chosen within this group."""
        return f"{self.cell.key}/s{self.seed}"

    @property
    def digest(self) -> str:
        """Hash of the training config: a changed spec is caught instead of mixed in."""
        text = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def tags(self) -> dict[str, str]:
        return {**self.cell.tags(), Tags.GAMMA: number_tag(self.gamma), Tags.SEED: str(self.seed),
                Tags.TRIAL_KEY: self.key}


@dataclass(frozen=True)
class Plan:
    spec: SweepSpec
    cells: tuple[Cell, ...]
    trials: tuple[Trial, ...]

    def trials_of(self, cell: Cell) -> list[Trial]:
        return [trial for trial in self.trials if trial.cell.key == cell.key]


def brings_own_model(method: str) -> bool:
    """Baselines (sGDML, ANI-1ccx) train their own model, not the spec's backbones: one cell
    per dataset and budget, with the method as its model label."""
    return method in ACCURATE_ONLY_METHODS and method != "standard"


def level_role(method: str) -> str | None:
    """Which extra level a method trains on: 'inaccurate' (labelled), 'unlabeled' or None."""
    if method in METHODS_WITH_INACCURATE_LABELS:
        return "inaccurate"
    if method in UNLABELED_METHODS:
        return "unlabeled"
    return None


def _extra_levels(index: int, dataset: DatasetSpec, method: MethodSpec, source: str
                  ) -> list[LevelSpec | None]:
    role = level_role(method.name)
    if role is None:
        return [None]
    if role == "unlabeled":
        if dataset.unlabeled is None:
            raise ConfigError(source, f"datasets.{index}.unlabeled",
                              f"method '{method.name}' needs unlabeled frames")
        return [dataset.unlabeled]
    if method.levels is None:
        if not dataset.inaccurate:
            raise ConfigError(source, f"datasets.{index}.inaccurate",
                              f"method '{method.name}' needs labelled inaccurate levels")
        return list(dataset.inaccurate)
    return [level for level in dataset.inaccurate if level.name in method.levels]


def _check_method_levels(spec: SweepSpec, source: str) -> None:
    names = {level.name for dataset in spec.datasets for level in dataset.inaccurate}
    for index, method in enumerate(spec.methods):
        unknown = sorted(set(method.levels or []) - names)
        if unknown:
            raise ConfigError(source, f"methods.{index}.levels",
                              f"no dataset has inaccurate level(s) {unknown}; known: "
                              f"{sorted(names)}")


def _accurate_frames_of(spec: SweepSpec, cell: Cell, source: str) -> int:
    """Accurate training frames a cell's method buys with its budget (see the module
    docstring)."""
    share = spec.inaccurate_share if level_role(cell.method) == "inaccurate" else 0.0
    try:
        return accurate_frames(cell.budget, share)
    except ConfigError as error:  # the budget helpers do not know the spec
        raise ConfigError(source, "budgets", f"{error.problem} for '{cell.method}'") from None


def _data_block(spec: SweepSpec, dataset: DatasetSpec, cell: Cell, level: LevelSpec | None,
                source: str) -> dict[str, Any]:
    data: dict[str, Any] = {"accurate": dataset.accurate.source(),
                            "n_accurate_train": _accurate_frames_of(spec, cell, source)}
    if level is None:
        return data
    data["inaccurate"] = level.source()
    if level_role(cell.method) == "unlabeled":
        data["n_inaccurate_train"] = spec.unlabeled_frames
        return data
    data["cost_ratio"] = cell.cost_ratio
    if cell.method != "delta_ml":
        data["budget"] = cell.budget
    if cell.method == MULTI_MOLECULE_METHOD:
        data["pretraining_molecules"] = _other_molecules(spec, dataset, level, source)
    return data


def _other_molecules(spec: SweepSpec, dataset: DatasetSpec, level: LevelSpec, source: str
                     ) -> list[dict[str, Any]]:
    """``asteroid_multi``'s other molecules: every other dataset of the spec that has an
    inaccurate level of the same name (one pre-training serves all of them)."""
    others = [{"accurate": other.accurate.source(), "inaccurate": same.source()}
              for other in spec.datasets if other is not dataset
              for same in other.inaccurate if same.name == level.name]
    if not others:
        raise ConfigError(source, "methods", f"'{MULTI_MOLECULE_METHOD}' pre-trains on several "
                          f"molecules, but no other dataset has inaccurate level '{level.name}'")
    return others


def trial_config(spec: SweepSpec, model: ModelSpec, data: dict[str, Any], cell: Cell,
                 key: str, seed: int, gamma: float | None, source: str) -> dict[str, Any]:
    """The validated training config of one trial, as the JSON-ready mapping it dumps to."""
    generated: dict[str, Any] = {
        "name": f"{spec.name}:{key}", "method": cell.method, "seed": seed, "data": data,
        "model": {"name": model.name, "hyperparameters": model.hyperparameters},
        "tracking": {"experiment": spec.name},
    }
    if gamma is not None:
        generated["asteroid"] = {"gammas": [gamma]}
    content = deep_merge(deep_merge({"progress": False}, spec.train), model.train)
    content = deep_merge(content, generated)
    try:
        config = parse_config(content, source)
    except ConfigError as error:
        raise ConfigError(source, f"train.{error.key_path}",
                          f"{error.problem} (in the training config of trial {key})") from None
    return config.model_dump(mode="json")


def _cells(spec: SweepSpec, source: str) -> list[tuple[Cell, DatasetSpec, ModelSpec,
                                                       LevelSpec | None]]:
    cells = []
    for index, dataset in enumerate(spec.datasets):
        for model_index, model in enumerate(spec.models):
            for method in spec.methods:
                own_model = brings_own_model(method.name)
                if own_model and model_index > 0:
                    continue
                model_key = method.name if own_model else model.key
                role = level_role(method.name)
                ratios = spec.cost_ratios if role == "inaccurate" else [None]
                for level in _extra_levels(index, dataset, method, source):
                    levels = dataset.accurate.name if level is None \
                        else f"{dataset.accurate.name}+{level.name}"
                    for budget in spec.budgets:
                        for ratio in ratios:
                            ratio_part = "" if ratio is None else \
                                f"/r{ratio if isinstance(ratio, str) else number_tag(ratio)}"
                            key = (f"{dataset.name}/{levels}/{model_key}/{method.name}/"
                                   f"b{number_tag(budget)}{ratio_part}")
                            cell = Cell(key, dataset.molecule, model_key, method.name, budget,
                                        ratio, dataset.accurate.name,
                                        None if level is None else level.name)
                            cells.append((cell, dataset, model, level))
    return cells


def make_plan(spec: SweepSpec, source: str = "<spec>") -> Plan:
    """Every cell and trial of ``spec``, in run order (gamma-major)."""
    _check_method_levels(spec, source)
    cells = _cells(spec, source)
    trials: list[Trial] = []
    for gamma_index, gamma in enumerate(spec.gammas):
        for seed in spec.seeds:
            for cell, dataset, model, level in cells:
                with_gamma = cell.method in BIAS_AWARE_METHODS
                if not with_gamma and gamma_index > 0:
                    continue
                trial_gamma = gamma if with_gamma else None
                key = cell.key + (f"/g{number_tag(gamma)}" if with_gamma else "") + f"/s{seed}"
                data = _data_block(spec, dataset, cell, level, source)
                config = trial_config(spec, model, data, cell, key, seed, trial_gamma, source)
                trials.append(Trial(key, cell, seed, trial_gamma, config))
    return Plan(spec, tuple(cell for cell, *_ in cells), tuple(trials))


def format_plan(plan: Plan) -> str:
    """Cells and trials as text (``harness sweep plan``)."""
    spec = plan.spec
    lines = [f"sweep {spec.name} (profile {spec.profile}): {len(plan.cells)} cells, "
             f"{len(plan.trials)} trials", "", "cells:"]
    for cell in plan.cells:
        lines.append(f"  {cell.key}  ({len(plan.trials_of(cell))} trials)")
    lines += ["", "trials (run order):"]
    for trial in plan.trials:
        data = trial.config["data"]
        sizes = f"n_accurate_train={data['n_accurate_train']}"
        if data.get("budget") is not None:
            sizes += f" budget={number_tag(data['budget'])} cost_ratio={data['cost_ratio']}"
        elif data.get("n_inaccurate_train") is not None:
            sizes += f" n_inaccurate_train={data['n_inaccurate_train']}"
        lines.append(f"  {trial.key}  {sizes}")
    return "\n".join(lines)
