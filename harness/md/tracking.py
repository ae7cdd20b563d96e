"""MD results in MLflow (docs/mlflow-record.md): one run per trajectory, role ``md``.

Tags: method, step_size_fs, seed, ensemble, model_run_id, molecule (and whatever the caller
adds, e.g. sweep, model, budget); params: the row's settings (``MD_PARAM_COLUMNS``) and the
caller's (model_source, dtype); metrics ``md.<name>``: stable (0/1), time_to_failure_ps,
steps_per_second, hr_mae, energy_drift_per_atom_per_ps and the per-criterion stability.
Non-finite values (e.g. the drift of a Langevin-only run) are left out rather than logged.
"""

from __future__ import annotations

import math
from typing import Any

from harness.mlflow_record import (
    MD_METRIC_COLUMNS,
    MD_PARAM_COLUMNS,
    Params,
    Role,
    Tags,
    flag_from_tag,
    flag_tag,
    md_metric,
    run_filter,
)
from harness.train.tracking import MlflowTracker


def md_metrics(row: dict[str, Any]) -> dict[str, float]:
    metrics = {}
    for column in MD_METRIC_COLUMNS:
        value = row.get(column)
        if value is None:
            continue
        value = float(value)
        if math.isfinite(value):
            metrics[md_metric(column)] = value
    return metrics


def log_md_run(row: dict[str, Any], experiment: str, tracking_uri: str | None,
               tags: dict[str, str], params: dict[str, Any] | None = None) -> str:
    """One finished MLflow run for the trajectory ``row``; returns its run id."""
    run_name = f"md-{tags.get(Tags.METHOD, '')}-{row['step_fs']}fs-seed{row['seed']}"
    tracker = MlflowTracker(tracking_uri, experiment, run_name)
    tracker.set_tags({Tags.ROLE: Role.MD, Tags.STEP_SIZE_FS: str(row["step_fs"]),
                      Tags.SEED: str(row["seed"]), Tags.ENSEMBLE: str(row["ensemble"]), **tags})
    tracker.log_params({**{column: row[column] for column in MD_PARAM_COLUMNS if column in row},
                        **(params or {})})
    tracker.log_metrics(md_metrics(row))
    tracker.close()
    return tracker.run_id


def supersede_md_runs(experiment: str, tracking_uri: str | None, label: str,
                      training_seed: int, step_fs: float, keep_source: str | None = None
                      ) -> None:
    """Tag ``superseded=true`` on the MD runs of one cell (arm ``label``, training seed, step
    size): all of them when it is about to run again, else those of models other than
    ``keep_source``."""
    from mlflow.tracking import MlflowClient

    from harness.train.tracking import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return
    cell = run_filter(Role.MD, {Tags.LABEL: label, Tags.TRAINING_SEED: str(training_seed)})
    for run in client.search_runs([found.experiment_id], cell, max_results=10000):
        if (float(run.data.tags.get(Tags.STEP_SIZE_FS, "nan")) == step_fs
                and run.data.params.get(Params.MODEL_SOURCE) != keep_source
                and not flag_from_tag(run.data.tags.get(Tags.SUPERSEDED))):
            client.set_tag(run.info.run_id, Tags.SUPERSEDED, flag_tag(True))
