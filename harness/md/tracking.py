"""MD results in MLflow, per the shared contract: one run per trajectory, ``harness.role=md``.

Tags: method, step_size_fs, seed, model_run_id, molecule (and whatever the caller adds, e.g.
sweep, model, budget); metrics ``md.<name>``: stable (0/1), time_to_failure_ps,
steps_per_second, hr_mae, energy_drift_per_atom_per_ps and the per-criterion stability.
Non-finite values (e.g. the drift of a Langevin-only run) are left out rather than logged.
"""

from __future__ import annotations

import math
from typing import Any

from harness.train.tracking import MlflowTracker

ROLE_TAG, ROLE, MODEL_ROLE = "harness.role", "md", "md_model"
METRIC_COLUMNS = ("stable", "stable_max_distance", "stable_bonds", "time_to_failure_ps",
                  "steps_per_second", "hr_mae", "energy_drift_per_atom_per_ps",
                  "mean_temperature_K", "nve_stable", "nve_time_to_failure_ps")
PARAM_COLUMNS = ("ensemble", "temperature_K", "friction_per_fs", "steps", "duration_ps",
                 "replicas_in_batch")


def md_metrics(row: dict[str, Any]) -> dict[str, float]:
    metrics = {}
    for column in METRIC_COLUMNS:
        value = row.get(column)
        if value is None:
            continue
        value = float(value)
        if math.isfinite(value):
            metrics[f"md.{column}"] = value
    return metrics


def log_md_run(row: dict[str, Any], experiment: str, tracking_uri: str | None,
               tags: dict[str, str], params: dict[str, Any] | None = None) -> str:
    """One finished MLflow run for the trajectory ``row``; returns its run id."""
    from mlflow.entities import RunTag

    run_name = f"md-{tags.get('method', '')}-{row['step_fs']}fs-seed{row['seed']}"
    tracker = MlflowTracker(tracking_uri, experiment, run_name)
    all_tags = {ROLE_TAG: ROLE, "step_size_fs": str(row["step_fs"]), "seed": str(row["seed"]),
                "ensemble": str(row["ensemble"]), **tags}
    tracker.client.log_batch(tracker.run_id,
                             tags=[RunTag(key, str(value)) for key, value in all_tags.items()])
    tracker.log_params({**{column: row[column] for column in PARAM_COLUMNS if column in row},
                        **(params or {})})
    tracker.log_metrics(md_metrics(row))
    tracker.close()
    return tracker.run_id


def tag_model_run(run_id: str, tracking_uri: str | None, tags: dict[str, str]) -> None:
    """Mark a training run that an MD sweep trained (``harness.role=md_model``) with the
    sweep's tags, so that a report can find the models next to their MD runs."""
    from mlflow.tracking import MlflowClient

    from harness.train.tracking import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    for key, value in {ROLE_TAG: MODEL_ROLE, **tags}.items():
        if key != "model_run_id":
            client.set_tag(run_id, key, str(value))


def supersede_md_runs(experiment: str, tracking_uri: str | None, model_source: str) -> None:
    """Tag ``superseded=true`` on the MD runs of a model that has since been replaced."""
    from mlflow.tracking import MlflowClient

    from harness.train.tracking import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    found = client.get_experiment_by_name(experiment)
    if found is None or not model_source:
        return
    query = f"tags.`{ROLE_TAG}` = '{ROLE}'"
    for run in client.search_runs([found.experiment_id], query, max_results=10000):
        if run.data.params.get("model_source") == model_source:
            client.set_tag(run.info.run_id, "superseded", "true")
