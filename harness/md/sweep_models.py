"""The MD arms' models from a finished training sweep, by MLflow run id.

A training sweep records every trial as an MLflow run (role ``trial``, docs/mlflow-record.md)
with its method, budget, levels, seed and, once its group is settled, ``selected=true`` on the
trial whose gamma won on the validation frames; the trial's ``model.pt`` is an artifact of that
run.
MD takes exactly that model, so a method is trained once, by the sweep, and the MD table
describes the same models as the accuracy tables.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError
from harness.md.sweep_spec import FromSweepSpec
from harness.mlflow_record import Role, Tags, flag_from_tag, flag_tag, number_tag, run_filter
from harness.sweeps.spec import load_spec as load_training_spec
from harness.train.config import METHODS_WITH_INACCURATE_LABELS
from harness.train.tracking import resolve_tracking_uri


def _filter(source: FromSweepSpec, method: str, seed: int, model: str) -> str:
    tags = {Tags.PROFILE: source.profile, Tags.METHOD: method, Tags.MODEL: model,
            Tags.BUDGET: number_tag(source.budget), Tags.SEED: str(seed),
            Tags.SELECTED: flag_tag(True)}
    if method in METHODS_WITH_INACCURATE_LABELS:
        tags[Tags.INACCURATE_LEVEL] = source.inaccurate_level
    return f"{run_filter(Role.TRIAL, tags)} and attributes.status = 'FINISHED'"


def sweep_model_key(source: FromSweepSpec, where: str) -> tuple[str, str]:
    """The training sweep's name (its MLflow experiment) and the model key its trials carry."""
    sweep = load_training_spec(source.spec, source.profile)
    keys = [model.key for model in sweep.models]
    if source.model is None and len(keys) > 1:
        raise ConfigError(where, "from_sweep.model", f"the sweep trains {keys}: name one")
    model = source.model or keys[0]
    if model not in keys:
        raise ConfigError(where, "from_sweep.model", f"'{model}' is not among the sweep's "
                          f"models {keys}")
    return sweep.name, model


def selected_trial_run(source: FromSweepSpec, method: str, seed: int,
                       tracking_uri: str | None, where: str) -> str:
    """The MLflow run id of the sweep's selected, finished, current trial of one arm and seed.

    A missing run is a one-line error that says to run the sweep first; superseded runs (older
    code or data) never count.
    """
    from mlflow.tracking import MlflowClient

    sweep_name, model = sweep_model_key(source, where)
    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(sweep_name)
    runs: list[Any] = [] if experiment is None else client.search_runs(
        [experiment.experiment_id], _filter(source, method, seed, model), max_results=100)
    current = [run for run in runs if not flag_from_tag(run.data.tags.get(Tags.SUPERSEDED))]
    if not current:
        raise ConfigError(where, "from_sweep",
                          f"no finished, selected '{method}' trial of sweep '{sweep_name}' "
                          f"(profile {source.profile}, budget {number_tag(source.budget)}, seed "
                          f"{seed}) in {uri}: run `harness sweep run {source.spec} --profile "
                          f"{source.profile}` first")
    if len(current) > 1:
        raise ConfigError(where, "from_sweep",
                          f"{len(current)} selected '{method}' trials of sweep '{sweep_name}' "
                          f"match (seed {seed}): give from_sweep.model or inaccurate_level")
    return current[0].info.run_id
