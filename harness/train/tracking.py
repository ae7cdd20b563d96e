"""MLflow at the edge: the one place that knows about tracking URIs, runs and artifacts.

The tracking URI is the config's, else ``$MLFLOW_TRACKING_URI``, else a SQLite file
``mlflow.db`` in the project root with artifacts under ``mlartifacts/`` (set explicitly when the
experiment is created, so that runs never scatter ``mlruns/`` folders into the working
directory). ``NullTracker`` lets the trainer and methods run without MLflow.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from harness.locks import exclusive_file_lock

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_PARAM_LENGTH = 500
MAX_METRICS_PER_BATCH = 1000  # MLflow's limit per log_batch call


MetricEntry = tuple[str, float, int]  # name, value, step


class Tracker(Protocol):
    def log_params(self, params: dict[str, Any]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def log_metric_entries(self, entries: list[MetricEntry]) -> None: ...
    def set_tags(self, tags: dict[str, str]) -> None: ...
    def log_artifact(self, path: Path, folder: str | None = None) -> None: ...
    def close(self, status: str = "FINISHED") -> None: ...


class NullTracker:
    """Tracks nothing (tests, and ``tracking.enabled: false``)."""

    run_id: str | None = None

    def log_params(self, params: dict[str, Any]) -> None:
        del params

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        del metrics, step

    def log_metric_entries(self, entries: list[MetricEntry]) -> None:
        del entries

    def set_tags(self, tags: dict[str, str]) -> None:
        del tags

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        del path, folder

    def close(self, status: str = "FINISHED") -> None:
        del status


def resolve_tracking_uri(configured: str | None) -> str:
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def default_artifact_location(tracking_uri: str) -> str | None:
    """``mlartifacts/`` beside a SQLite database; the server's choice otherwise."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    return (database.parent / "mlartifacts").resolve().as_uri()


@contextmanager
def sqlite_creation_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise opening a SQLite store across processes: MLflow creates and migrates the
    schema on first use, and two processes doing it at once fail ('duplicate column')."""
    lock_path = (Path(tracking_uri.removeprefix("sqlite:///") + ".lock")
                 if tracking_uri.startswith("sqlite:///") else None)
    with exclusive_file_lock(lock_path):
        yield


class MlflowTracker:
    """One MLflow run; ``run_id`` given resumes it (a killed run continues its record)."""

    def __init__(self, tracking_uri: str | None, experiment: str, run_name: str,
                 run_id: str | None = None) -> None:
        from mlflow.tracking import MlflowClient

        uri = resolve_tracking_uri(tracking_uri)
        with sqlite_creation_lock(uri):
            self.client = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(experiment)
            if found is not None:
                experiment_id = found.experiment_id
            else:
                experiment_id = self.client.create_experiment(
                    experiment, artifact_location=default_artifact_location(uri))
        if run_id is None:
            run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id
        else:
            self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        logged = self.client.get_run(self.run_id).data.params
        fresh = [Param(key, str(value)[:MAX_PARAM_LENGTH]) for key, value in params.items()
                 if key not in logged]
        for start in range(0, len(fresh), 100):
            self.client.log_batch(self.run_id, params=fresh[start:start + 100])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.log_metric_entries([(key, value, step or 0) for key, value in metrics.items()])

    def log_metric_entries(self, entries: list[MetricEntry]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(name, float(value), now, step) for name, value, step in entries]
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            self.client.log_batch(self.run_id,
                                  metrics=metrics[start:start + MAX_METRICS_PER_BATCH])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(key, str(value))
                                                 for key, value in tags.items()])

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=folder)

    def close(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status=status)


class BufferedMetrics:
    """A run's per-validation metrics, sent in batches instead of one call per validation.

    ``add`` sends what it holds once ``flush_interval_s`` seconds have passed since the last
    send; ``flush`` (at the end of every stage and of the run) sends the rest, so a run that
    ends normally loses nothing and a killed one at most the last interval.
    """

    def __init__(self, tracker: Tracker, flush_interval_s: float = 5.0) -> None:
        self.tracker = tracker
        self.flush_interval_s = flush_interval_s
        self.pending: list[MetricEntry] = []
        self.last_flush = time.monotonic()

    def add(self, metrics: dict[str, float], step: int) -> None:
        self.pending.extend((name, float(value), step) for name, value in metrics.items())
        if time.monotonic() - self.last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.tracker.log_metric_entries(self.pending)
            self.pending = []
        self.last_flush = time.monotonic()
