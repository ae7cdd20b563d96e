"""The MLflow side of a sweep: its part of the record of docs/mlflow-record.md.

One experiment per sweep, named by the spec, with its artifact location set when it is created
(``mlartifacts/`` beside a SQLite database unless the spec names one). A parent run per cell
(role ``cell``) and a child run per trial (role ``trial``, nested by ``mlflow.parentRunId``),
each tagged with sweep, profile, molecule, model, method, budget, cost ratio and levels; trials
add gamma, seed, trial key, code and data versions, their ``generation`` and ``selected``.
Runs are found again by their key and generation tags, so a resumed trial continues its own
run and a trial never has two in one generation; the runs of older generations (results of
other code or data) are tagged ``superseded=true``.
"""

from __future__ import annotations

import time
from typing import Any

from harness.errors import ConfigError
from harness.mlflow_record import (
    MAX_TAG_LENGTH,
    SWEEP_EXPERIMENT_TAG,
    TRIAL_ONLY_TAGS,
    Role,
    Tags,
    flag_from_tag,
    flag_tag,
    run_filter,
    run_name,
)
from harness.sweeps.databases import create_sqlite_atomically
from harness.sweeps.spec import SweepSpec
from harness.train.tracking import (
    default_artifact_location,
    resolve_tracking_uri,
    sqlite_creation_lock,
)


def _make_tables(uri: str) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


def cell_tags_of(trial_tags: dict[str, str]) -> dict[str, str]:
    """A trial's tags without those that name the trial within its cell."""
    return {key: value for key, value in trial_tags.items() if key not in TRIAL_ONLY_TAGS}


class SweepTracking:
    """One sweep's MLflow experiment; finds or creates its cell and trial runs."""

    def __init__(self, spec: SweepSpec, tracking_uri: str | None = None) -> None:
        from mlflow.tracking import MlflowClient

        self.spec = spec
        self.uri = resolve_tracking_uri(tracking_uri or spec.tracking.uri)
        with sqlite_creation_lock(self.uri):  # one process at a time migrates an old schema
            create_sqlite_atomically(self.uri, _make_tables)
            self.client = MlflowClient(tracking_uri=self.uri)
            self.experiment_id = self._experiment_id()
        self._cell_runs: dict[str, str] = {}

    def _experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        name = self.spec.name
        found = self.client.get_experiment_by_name(name)
        if found is None:
            location = self.spec.tracking.artifact_location or default_artifact_location(self.uri)
            try:
                return self.client.create_experiment(name, artifact_location=location,
                                                     tags={SWEEP_EXPERIMENT_TAG: name})
            except MlflowException:  # another process created it a moment ago
                found = self.client.get_experiment_by_name(name)
        if found.lifecycle_stage != "active":
            raise ConfigError("<tracking>", "name",
                              f"MLflow experiment '{name}' is deleted: restore it "
                              "(mlflow experiments restore) or rename the sweep")
        return found.experiment_id

    @property
    def sweep_tags(self) -> dict[str, str]:
        return {Tags.SWEEP: self.spec.name, Tags.PROFILE: self.spec.profile}

    def _find(self, role: str, key_tag: str, key: str) -> list[Any]:
        query = run_filter(role, {key_tag: key, Tags.PROFILE: self.spec.profile})
        return list(self.client.search_runs([self.experiment_id], query, max_results=100,
                                            order_by=["attributes.start_time ASC"]))

    def cell_run(self, cell_key: str, tags: dict[str, str], extra: dict[str, str] | None = None
                 ) -> str:
        """The parent run of a cell, created on first use."""
        if cell_key not in self._cell_runs:
            found = self._find(Role.CELL, Tags.CELL_KEY, cell_key)
            if found:
                run_id = found[0].info.run_id
            else:
                run_id = self.client.create_run(
                    self.experiment_id, run_name=run_name(tags),
                    tags={**tags, **self.sweep_tags, **(extra or {}), Tags.ROLE: Role.CELL}
                ).info.run_id
            self._cell_runs[cell_key] = run_id
        return self._cell_runs[cell_key]

    def trial_run(self, trial_key: str, tags: dict[str, str], parent_run_id: str,
                  generation: int = 0) -> Any:
        """The trial's run of this generation: the one it already has (a resumed trial), else
        a new child run. Runs of older generations are tagged superseded.

        Runs beyond the first (left by an earlier bug or a race) are marked KILLED so that no
        trial ever shows two finished runs.
        """
        found = []
        for run in self._find(Role.TRIAL, Tags.TRIAL_KEY, trial_key):
            run_generation = int(run.data.tags.get(Tags.GENERATION) or 0)
            if run_generation == generation:
                found.append(run)
            elif (run_generation < generation
                  and not flag_from_tag(run.data.tags.get(Tags.SUPERSEDED))):
                self.set_tags(run.info.run_id, {Tags.SUPERSEDED: flag_tag(True)})
        for stale in found[1:]:
            if stale.info.status != "FINISHED":
                self.client.set_terminated(stale.info.run_id, status="KILLED")
        if found:
            return found[0]
        return self.client.create_run(
            self.experiment_id, run_name=run_name(tags),
            tags={**tags, **self.sweep_tags, Tags.GENERATION: str(generation),
                  Tags.ROLE: Role.TRIAL, Tags.PARENT: parent_run_id})

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(key, str(value)[:MAX_TAG_LENGTH])
                                            for key, value in tags.items()])

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(key, float(value), now, 0)
                                               for key, value in metrics.items()])

    def terminate(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def fail(self, run_id: str, reason: str) -> None:
        self.set_tags(run_id, {Tags.FAILURE_REASON: reason})
        self.terminate(run_id, "FAILED")

    def clear_failure(self, run: Any) -> None:
        """A failed trial run again (``--retry-failed``) sheds the reason of its last failure."""
        if Tags.FAILURE_REASON in run.data.tags:
            self.client.delete_tag(run.info.run_id, Tags.FAILURE_REASON)
