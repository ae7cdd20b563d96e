"""One worker process: claims trials from the study one at a time and trains each.

Started by ``harness sweep run`` (one per GPU, or per share of the CPU threads) as
``python -m harness.sweeps.worker SPEC --profile P --state-dir DIR`` with the study's storage
URL in ``$HARNESS_SWEEP_STORAGE`` and the tracking URI in ``$HARNESS_SWEEP_TRACKING_URI``:
the environment, unlike the command line, is not shown to other users by ``ps``. A worker
stops when no trial waits and none runs; while another worker's trial runs it keeps polling,
because that trial comes back to the queue if its worker dies.

Per trial: find or create the cell's parent run and the trial's child run (a resumed trial
continues its run), record the code and data versions it runs with (a trial folder left by
other versions is emptied first: see ``trial_folder``), adopt a shared stage 1, train through
``harness.train.experiment.run`` in the trial's folder (``<state>/trials/<trial_key>/``, where
checkpoints make a retry resume), log the record's metrics, end the run FINISHED, then tell
Optuna COMPLETE with the validation loss. A trial killed after MLflow heard of it but before
Optuna did is recognised on its retry by the finished run and its ``results.json``, and is not
trained again; a folder whose ``results.json`` has no finished run (training ended, the run did
not, or ``harness sweep load`` put a saved trial there) is logged from the folder instead of
trained. An exception or a non-finite loss ends the run FAILED with ``failure_reason``
and the worker goes on.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from harness.errors import ConfigError, HarnessError
from harness.mlflow_record import (
    TEST_METRIC_PREFIX,
    Metrics,
    Tags,
    flag_tag,
    metric_on_test,
)
from harness.redaction import redact
from harness.sweeps import stage_one, trial_folder
from harness.sweeps.finalize import settle_group
from harness.sweeps.mlflow_layout import SweepTracking, cell_tags_of
from harness.sweeps.spec import DEFAULT_PROFILE, load_spec
from harness.sweeps.study import (
    claim_next,
    earlier_attempt,
    generation_of,
    heartbeat,
    open_storage,
    open_study,
    release_stale,
    set_attributes,
    study_name,
    tell,
)
from harness.versions import (
    Versions,
    code_version,
    source_hash,
    trial_data_version,
    trial_versions,
)

MAX_REASON_LENGTH = 1000
STORAGE_ENV = "HARNESS_SWEEP_STORAGE"
TRACKING_ENV = "HARNESS_SWEEP_TRACKING_URI"
log = logging.getLogger("harness.sweeps.worker")


@dataclass(frozen=True)
class WorkerSettings:
    spec_path: str
    storage_url: str
    state_dir: Path
    profile: str = DEFAULT_PROFILE
    tracking_uri: str | None = None
    overrides: list[str] = field(default_factory=list)  # the sweep's --set KEY=VALUE


class KeepOpen:
    """Lets ``experiment.run`` log into the trial's run without ending it, so that the sweep's
    own metrics are in place before the run is marked FINISHED.

    Test metrics are held back: the worker logs them (from ``results.json``) only once it has
    found the training sound, so that a run that ends FAILED, diverged, carries no finite
    ``test.*`` metric for a search by metric to pick up.
    """

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def log_params(self, params: dict[str, Any]) -> None:
        self.tracker.log_params(params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        kept = {key: value for key, value in metrics.items()
                if not key.startswith(TEST_METRIC_PREFIX)}
        if kept:
            self.tracker.log_metrics(kept, step)

    def log_metric_entries(self, entries: list[tuple[str, float, int]]) -> None:
        self.tracker.log_metric_entries(entries)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tracker.set_tags(tags)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self.tracker.log_artifact(path, folder)

    def close(self, status: str = "FINISHED") -> None:
        del status  # the worker ends the run itself


def sweep_run_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The trial metrics of the record (docs/mlflow-record.md) that the sweep logs beside the
    test metrics (``KeepOpen`` holds those back); ``experiment.run`` logs the budget spent."""
    data = results["data"]
    return {Metrics.VALIDATION_LOSS: results["validation_loss"],
            Metrics.WALL_SECONDS: results["wall_seconds"],
            Metrics.N_ACCURATE_TRAIN: data["n_accurate_train"],
            Metrics.N_INACCURATE_TRAIN: data["n_inaccurate_train"]}


def trial_metrics(results: dict[str, Any]) -> dict[str, float]:
    """What the Optuna ledger keeps of a finished trial, beside its test metrics."""
    return {**sweep_run_metrics(results), Metrics.BUDGET_SPENT: results["budget_spent"]}


def metrics_on_test_frames(results: dict[str, Any]) -> dict[str, float]:
    """The run's ``test.*`` metrics, from ``results.json``."""
    return {metric_on_test(key): value for key, value in results["test"].items()}


def non_finite(results: dict[str, Any], metrics: dict[str, float]) -> str | None:
    """Why a finished training is a failure (NaN or infinite losses), or None."""
    values = {**metrics_on_test_frames(results),
              Metrics.VALIDATION_LOSS: metrics[Metrics.VALIDATION_LOSS]}
    bad = sorted(name for name, value in values.items() if not math.isfinite(value))
    return f"non-finite {', '.join(bad)} (diverged?)" if bad else None


class Worker:
    def __init__(self, settings: WorkerSettings) -> None:
        source_hash()  # hashed at start: the sources as this process found them
        self.settings = settings
        self.spec = load_spec(settings.spec_path, settings.profile, settings.overrides)
        self.storage = open_storage(settings.storage_url, self.spec.scheduling)
        self.study = open_study(self.storage, study_name(self.spec))
        self.tracking = SweepTracking(self.spec, settings.tracking_uri)

    def run(self) -> int:
        """Train trials until none waits or runs; returns how many this worker handled."""
        handled = 0
        interval = self.spec.scheduling.heartbeat_seconds
        log.info("ready: study %s, tracking %s", self.study.study_name,
                 redact(self.tracking.uri))
        while True:
            release_stale(self.study)
            claimed = claim_next(self.study, self.storage)
            if claimed is None:
                if not self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                    return handled
                time.sleep(self.spec.scheduling.poll_seconds)
                continue
            earlier = earlier_attempt(self.study, claimed)
            if earlier is not None:
                tell(self.study, self.storage, claimed, None,
                     f"duplicate of trial {earlier.number}, which runs this key")
                continue
            with heartbeat(self.storage, claimed, interval):
                self.run_trial(claimed)
            settle_group(self.study, self.tracking, claimed.user_attrs["group_key"])
            handled += 1

    def _trial_tags(self, attributes: dict[str, Any], versions: Versions) -> dict[str, str]:
        return {**attributes["tags"], **code_version(), **versions.as_tags(),
                Tags.DATA_VERSION: trial_data_version(attributes["config"])}

    def run_trial(self, claimed: FrozenTrial) -> None:
        started = time.perf_counter()
        attributes = claimed.user_attrs
        key, config = attributes["trial_key"], attributes["config"]
        folder = trial_folder.trial_folder(self.settings.state_dir, key)
        generation, versions = generation_of(claimed), trial_versions(config)
        parent = self.tracking.cell_run(attributes["cell_key"], cell_tags_of(attributes["tags"]),
                                        code_version())
        tags = self._trial_tags(attributes, versions)
        run = self.tracking.trial_run(
            key, {**tags, Tags.SELECTED: flag_tag(attributes["gamma"] is None)},
            parent, generation)
        run_id = run.info.run_id
        self.tracking.set_tags(run_id, tags)
        self.tracking.clear_failure(run)
        set_attributes(self.storage, claimed, {"mlflow_run_id": run_id,
                                               "worker": f"{socket.gethostname()}:{os.getpid()}",
                                               **versions.as_tags()})
        if trial_folder.prepare(folder, versions, generation):
            log.info("%s: discarded its folder, made with other code, data or generation", key)
        results_path = folder / "results.json"
        if results_path.exists():  # trained with these versions, by a stopped worker or loaded
            results = json.loads(results_path.read_text())
            if run.info.status != "FINISHED":
                log.info("%s: trained before; recording it from its folder", key)
                self._record(claimed, run_id, folder, results, started, 0.0)
            else:
                log.info("%s: finished before the sweep was stopped; recording it", key)
                self._complete(claimed, results, trial_metrics(results), started, 0.0)
            return
        if stage_one.adopt(config, folder, self.settings.state_dir):
            log.info("%s: reusing the shared stage 1", key)
        results, training_seconds = self._train(claimed, run_id, config, folder)
        if results is not None:
            self._record(claimed, run_id, None, results, started, training_seconds)

    def _record(self, claimed: FrozenTrial, run_id: str, folder: Path | None,
                results: dict[str, Any], started: float, training_seconds: float) -> None:
        """Finish the trial's run and complete it, or fail it when its losses are not finite;
        ``folder``: log its training from there first (it was trained outside this run)."""
        metrics = trial_metrics(results)
        problem = non_finite(results, metrics)
        if problem is not None:
            self._fail(claimed, run_id, problem)
            return
        if folder is not None:
            from harness.train.config import TrainConfig
            from harness.train.experiment import record_finished
            from harness.train.tracking import MlflowTracker

            attributes = claimed.user_attrs
            record_finished(KeepOpen(MlflowTracker(self.tracking.uri, self.spec.name,
                                                   attributes["trial_key"], run_id)),
                            TrainConfig.model_validate(attributes["config"]), folder, results)
        self.tracking.log_metrics(run_id, {**metrics_on_test_frames(results),
                                           **sweep_run_metrics(results)})
        self.tracking.terminate(run_id, "FINISHED")
        self._complete(claimed, results, metrics, started, training_seconds)

    def _train(self, claimed: FrozenTrial, run_id: str, config: dict[str, Any], folder: Path
               ) -> tuple[dict[str, Any] | None, float]:
        from harness.train.config import TrainConfig
        from harness.train.experiment import run
        from harness.train.tracking import MlflowTracker

        key = claimed.user_attrs["trial_key"]
        log.info("%s: training", key)
        started = time.perf_counter()
        try:
            tracker = KeepOpen(MlflowTracker(self.tracking.uri, self.spec.name, key, run_id))
            # progress lines go to this worker's log: a trial can train for an hour
            shown = TrainConfig.model_validate(config).model_copy(update={"progress": True})
            results = run(shown, f"{self.settings.spec_path}:{key}", folder, tracker)
        except Exception as error:
            log.exception("%s: failed", key)
            self._fail(claimed, run_id, f"{type(error).__name__}: {error}")
            return None, time.perf_counter() - started
        finally:
            stage_one.publish(config, folder, self.settings.state_dir)
        return results, time.perf_counter() - started

    def _complete(self, claimed: FrozenTrial, results: dict[str, Any],
                  metrics: dict[str, float], started: float, training_seconds: float) -> None:
        elapsed = time.perf_counter() - started
        set_attributes(self.storage, claimed, {
            **metrics, "test": results["test"], "trial_seconds": elapsed,
            "overhead_seconds": elapsed - training_seconds,
            "outside_fit_seconds": elapsed - results.get("training_seconds", 0.0)})
        if not tell(self.study, self.storage, claimed, metrics[Metrics.VALIDATION_LOSS]):
            log.warning("%s: failed as stale meanwhile; its retry records it", claimed.number)
        log.info("%s: validation loss %.4g, test force MAE %.4g, %.1f s",
                 claimed.user_attrs["trial_key"], metrics[Metrics.VALIDATION_LOSS],
                 results["test"]["force_mae"], elapsed)
        from harness.train.experiment import convergence_warnings

        for line in convergence_warnings(results):
            log.warning("%s", line)

    def _fail(self, claimed: FrozenTrial, run_id: str, reason: str) -> None:
        reason = reason[:MAX_REASON_LENGTH]
        self.tracking.fail(run_id, reason)
        tell(self.study, self.storage, claimed, None, reason)
        log.warning("%s: FAILED: %s", claimed.user_attrs["trial_key"], reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.sweeps.worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--profile", default=DEFAULT_PROFILE)
    parser.add_argument("--storage", default=os.environ.get(STORAGE_ENV),
                        help=f"Optuna storage URL (default: ${STORAGE_ENV}; a password on the "
                        "command line is visible to local users)")
    parser.add_argument("--state-dir", required=True, help="trial folders and shared stage 1")
    parser.add_argument("--tracking-uri", default=os.environ.get(TRACKING_ENV),
                        help=f"MLflow tracking URI (default: ${TRACKING_ENV})")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        metavar="KEY=VALUE", help="the sweep's overrides of the spec")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s worker %(process)d: %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        if not args.storage:
            raise ConfigError("<worker>", "storage", f"no storage URL: set ${STORAGE_ENV}")
        settings = WorkerSettings(args.spec, args.storage, Path(args.state_dir), args.profile,
                                  args.tracking_uri, args.overrides)
        handled = Worker(settings).run()
    except HarnessError as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return 2
    log.info("no trial left: handled %d", handled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
