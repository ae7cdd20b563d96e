"""From finished trials in the study to selections and summaries in MLflow.

A group (a cell at one seed) is settled when none of its trials waits or runs: its gamma is
chosen by validation loss, the chosen trial's run is tagged ``selected=true`` (the others
``false``), and the cell's parent run gets ``chosen_gamma.s<seed>`` and one metric
``validation_loss.s<seed>.g<gamma>`` per gamma. A settled cell gets the mean and standard
deviation over seeds of its selected trials' test metrics, and their code and data versions as
tags (joined by '+' where they differ), and is marked FINISHED (FAILED when no trial
finished). Everything here can run again and writes the same.
"""

from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from harness.mlflow_record import (
    Metrics,
    Tags,
    cell_summary_metric,
    flag_tag,
    metric_on_test,
    number_tag,
    per_seed_chosen_gamma_tag,
    per_seed_validation_metric,
)
from harness.sweeps.mlflow_layout import SweepTracking, cell_tags_of
from harness.sweeps.plan import Plan
from harness.sweeps.study import completed, settled, trials_by_key
from harness.train.gamma_selection import GammaCandidate, GammaChoice, choose_gamma
from harness.versions import UNKNOWN, Versions

TEST_METRICS = ("force_mae", "force_rmse", "energy_mae")


def _candidate(key: str, attempts: list[FrozenTrial]) -> GammaCandidate:
    done = completed(attempts)
    gamma = attempts[0].user_attrs.get("gamma")
    return GammaCandidate(key, gamma, None if done is None else done.value)


def _run_id(attempts: list[FrozenTrial]) -> str | None:
    chosen = completed(attempts) or attempts[-1]
    return chosen.user_attrs.get("mlflow_run_id")


def settle_group(study: optuna.Study, tracking: SweepTracking, group_key: str,
                 attempts_by_key: dict[str, list[FrozenTrial]] | None = None
                 ) -> GammaChoice | None:
    """Choose the gamma of one group once all its trials are settled; None before that."""
    attempts_by_key = trials_by_key(study) if attempts_by_key is None else attempts_by_key
    group = {key: attempts for key, attempts in attempts_by_key.items()
             if attempts[0].user_attrs.get("group_key") == group_key}
    if not group or not all(settled(attempts) for attempts in group.values()):
        return None
    choice = choose_gamma([_candidate(key, attempts) for key, attempts in group.items()])
    first = next(iter(group.values()))[0].user_attrs
    if first.get("gamma") is None:
        return choice  # a group without gammas: its trial was tagged selected when it ran
    for key, attempts in group.items():
        run_id = _run_id(attempts)
        if run_id is not None:
            tracking.set_tags(run_id, {Tags.SELECTED: flag_tag(key == choice.chosen_key)})
    cell_run = tracking.cell_run(first["cell_key"], cell_tags_of(first["tags"]))
    seed = first["seed"]
    tracking.set_tags(cell_run, {per_seed_chosen_gamma_tag(seed):
                                 number_tag(choice.chosen_gamma)})
    tracking.log_metrics(cell_run, {per_seed_validation_metric(seed, gamma): loss
                                    for gamma, loss in choice.validation_loss_by_gamma.items()})
    return choice


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def _chosen_gammas(selected: list[FrozenTrial]) -> dict[str, str]:
    """The gammas validation chose in a cell, each once (``0.5,2``); none for other methods."""
    gammas = sorted({done.user_attrs["gamma"] for done in selected
                     if done.user_attrs.get("gamma") is not None})
    return {Tags.GAMMA: ",".join(map(number_tag, gammas))} if gammas else {}


def _versions_of(trials: list[FrozenTrial]) -> dict[str, str]:
    """The code and data versions the trials ran with, each distinct value once."""
    recorded = [Versions.recorded(trial.user_attrs) or Versions(UNKNOWN, UNKNOWN)
                for trial in trials]
    return {tag: "+".join(sorted({version.as_tags()[tag] for version in recorded}))
            for tag in (Tags.CODE_VERSION, Tags.DATA_HASH)}


def settle_cells(study: optuna.Study, plan: Plan, tracking: SweepTracking) -> int:
    """Select gammas and summarise every settled cell; returns how many cells are settled."""
    attempts_by_key = trials_by_key(study)
    choices = [settle_group(study, tracking, group_key, attempts_by_key)
               for group_key in dict.fromkeys(trial.group_key for trial in plan.trials)]
    selected_keys = {choice.chosen_key for choice in choices if choice is not None}
    settled_cells = 0
    for cell in plan.cells:
        attempts = [attempts_by_key.get(trial.key, []) for trial in plan.trials_of(cell)]
        if not all(settled(trial_attempts) for trial_attempts in attempts):
            continue
        settled_cells += 1
        selected = [done for done in map(completed, attempts)
                    if done is not None and done.user_attrs["trial_key"] in selected_keys]
        cell_run = tracking.cell_run(cell.key, cell.tags())
        summary: dict[str, float] = {Metrics.N_SELECTED_TRIALS: len(selected)}
        for name in TEST_METRICS:
            values = [done.user_attrs["test"][name] for done in selected]
            if values:
                (summary[cell_summary_metric(name, "mean")],
                 summary[cell_summary_metric(name, "std")]) = mean_and_std(values)
                # the plain name too, so that the runs page shows cells and trials in one column
                summary[metric_on_test(name)] = summary[cell_summary_metric(name, "mean")]
        tracking.log_metrics(cell_run, summary)
        if selected:
            tracking.set_tags(cell_run, {**_versions_of(selected), **_chosen_gammas(selected)})
        tracking.terminate(cell_run, "FINISHED" if selected else "FAILED")
    return settled_cells
