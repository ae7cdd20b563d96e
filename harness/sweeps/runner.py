"""``harness sweep run``: set a sweep up, start its worker processes, wait, settle it.

Set-up is idempotent, so the same command resumes a stopped sweep and, pointed at a shared
``--storage postgresql://...`` and MLflow server, adds a machine to a running one: it plans the
spec, enqueues the trials the study lacks, creates the cells' parent runs and starts N workers
(one per GPU where GPUs exist, else each with an equal share of the CPU threads). When they
are done it chooses the gammas and summarises the cells (``finalize``). Trials that ran with
other code or data than this machine has are run again (a new generation, see ``study``)
unless ``keep_stale`` keeps their results, and so are those that ran with another training
config (the spec changed under the same name, or a default changed with an upgrade, which
``dvc repro`` after ``git pull`` meets); the summary says which. Everything of a sweep
on this machine lives in ``<state root>/<sweep>/<profile>/``: the SQLite study (by default),
one folder per trial and the workers' logs.

The storage and tracking URLs reach the workers through their environment (``STORAGE_ENV``,
``TRACKING_ENV``), never their command line, which ``ps`` shows to every local user; whatever
is printed or written about them has its password replaced by ``***``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from harness.errors import ConfigError
from harness.redaction import redact, redact_text
from harness.sweeps.finalize import settle_cells
from harness.sweeps.mlflow_layout import SweepTracking
from harness.sweeps.plan import Plan, make_plan
from harness.sweeps.preflight import preflight, without_unavailable_baselines
from harness.sweeps.progress import SweepProgress
from harness.sweeps.spec import DEFAULT_PROFILE, SweepSpec, load_spec
from harness.sweeps.study import (
    FAILURE_REASON,
    completed,
    default_storage,
    enqueue_missing,
    key_states,
    open_storage,
    open_study,
    release_stale,
    respecified_keys,
    settled,
    stale_keys,
    study_name,
    withdraw_respecified,
)
from harness.sweeps.worker import STORAGE_ENV, TRACKING_ENV
from harness.train.tracking import PROJECT_ROOT
from harness.versions import code_version, trial_versions

DEFAULT_STATE_ROOT = PROJECT_ROOT / "runs" / "sweeps"
POLL_SECONDS = 2.0
LOG_TAIL_CHARACTERS = 3000


@dataclass
class SweepSummary:
    """Where a sweep stands after a ``run``: trial counts, failures and where to look."""

    name: str
    profile: str
    n_trials: int
    n_complete: int
    failures: dict[str, str]
    n_pending: int
    state_dir: Path
    storage_url: str
    tracking_uri: str
    wall_seconds: float
    worker_errors: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    kept_stale: bool = False
    respecified: list[str] = field(default_factory=list)  # rerun: their training config changed
    skipped: list[str] = field(default_factory=list)  # cells left out, and why

    def _stale_line(self) -> list[str]:
        lines = [f"re-queued {len(self.respecified)} trial(s) whose training config changed "
                 "since they ran (the spec, or a default it relies on)"] if self.respecified else []
        if not self.stale:
            return lines
        if self.kept_stale:
            return lines + [f"kept {len(self.stale)} result(s) of other code or data versions "
                            "(--keep-stale-results); the report marks the mixed versions"]
        return lines + [f"re-queued {len(self.stale)} trial(s) whose code or data changed since "
                        "they ran (--keep-stale-results keeps old results)"]

    def lines(self) -> list[str]:
        lines = [f"sweep {self.name} (profile {self.profile}): {self.n_complete} of "
                 f"{self.n_trials} trials complete, {len(self.failures)} failed, "
                 f"{self.n_pending} pending; {self.wall_seconds:.0f} s",
                 *self._stale_line(), *self.skipped,
                 f"study: {redact(self.storage_url)}",
                 f"trial folders: {self.state_dir / 'trials'}",
                 f"MLflow: {redact(self.tracking_uri)}"]
        lines += [f"FAILED {key}: {reason}" for key, reason in self.failures.items()]
        lines += [redact_text(error, self.storage_url, self.tracking_uri)
                  for error in self.worker_errors]
        return lines

    @property
    def finished(self) -> bool:
        """Every trial settled: the sweep's outcome, whatever happened to single workers (a
        killed worker's trial returns to the queue and another worker completes it)."""
        return self.n_pending == 0

    def as_json(self) -> dict:
        """What ``--summary`` writes: counts, failures and where the record lives."""
        return {"name": self.name, "profile": self.profile, "n_trials": self.n_trials,
                "n_complete": self.n_complete, "n_failed": len(self.failures),
                "n_pending": self.n_pending, "failures": self.failures,
                "storage": redact(self.storage_url), "tracking_uri": redact(self.tracking_uri),
                "n_stale": len(self.stale), "stale_kept": self.kept_stale,
                "n_respecified": len(self.respecified),
                "wall_seconds": round(self.wall_seconds, 1)}


def state_dir_of(spec: SweepSpec, root: Path | None = None) -> Path:
    return Path(root or DEFAULT_STATE_ROOT) / spec.name / spec.profile


def check_data_paths(spec: SweepSpec, source: str) -> None:
    """Every dataset path exists (relative to the working directory, as in training)."""
    for index, dataset in enumerate(spec.datasets):
        levels = [("accurate", dataset.accurate), ("unlabeled", dataset.unlabeled),
                  *((f"inaccurate.{n}", level) for n, level in enumerate(dataset.inaccurate))]
        for role, level in levels:
            if level is not None and not Path(level.path).exists():
                raise ConfigError(source, f"datasets.{index}.{role}.path",
                                  f"no dataset at '{level.path}' (relative to {Path.cwd()}); "
                                  "public sets come from `harness data fetch`")


def worker_environments(workers: int, gpu_ids: list[str], cores: int
                        ) -> list[dict[str, str]]:
    """Environment of each worker: a GPU each (round robin), or none and a share of cores."""
    threads = str(max(1, cores // max(workers, 1)))
    shared = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if gpu_ids:
        return [{**shared, "CUDA_VISIBLE_DEVICES": gpu_ids[index % len(gpu_ids)]}
                for index in range(workers)]
    return [{**shared, "CUDA_VISIBLE_DEVICES": ""} for _ in range(workers)]


def visible_gpus() -> list[str]:
    """The GPU ids this process may use (``CUDA_VISIBLE_DEVICES`` respected)."""
    import torch

    count = torch.cuda.device_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [part.strip() for part in visible.split(",") if part.strip()] if visible else []
    return ids[:count] if ids else [str(index) for index in range(count)]


def worker_log_path(state_dir: Path, index: int) -> Path:
    """``logs/worker-0-host-4242.log``: one file per worker of this ``sweep run``, so that two
    runs of one spec (a second terminal, a second machine on shared storage) never interleave
    their lines in one file, and a resumed run's log stands beside the killed one's."""
    return state_dir / "logs" / f"worker-{index}-{socket.gethostname()}-{os.getpid()}.log"


def _start_workers(spec_path: str, spec: SweepSpec, storage_url: str, state_dir: Path,
                   tracking_uri: str, workers: int, overrides: list[str]
                   ) -> list[tuple[subprocess.Popen, Path]]:
    environments = worker_environments(workers, visible_gpus(), len(os.sched_getaffinity(0)))
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    started = []
    for index, environment in enumerate(environments):
        log_path = worker_log_path(state_dir, index)
        command = [sys.executable, "-m", "harness.sweeps.worker", spec_path,
                   "--profile", spec.profile, "--state-dir", str(state_dir),
                   "--threads", environment["OMP_NUM_THREADS"],
                   *[argument for override in overrides for argument in ("--set", override)]]
        urls = {STORAGE_ENV: storage_url, TRACKING_ENV: tracking_uri}
        with open(log_path, "a") as log:
            process = subprocess.Popen(command, env={**os.environ, **environment, **urls},
                                       stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log_path))
    return started


def _wait(workers: list[tuple[subprocess.Popen, Path]], study, plan: Plan,
          progress: bool) -> list[str]:
    """Wait for the workers, printing a line per settled trial (and a bar on a terminal);
    the log tail of each worker that exited badly."""
    watch = SweepProgress(plan, key_states(study, plan))
    show_bar = progress and sys.stderr.isatty()
    say = tqdm.write if show_bar else print
    if progress:
        say(f"sweep {plan.spec.name}: {watch.opening_line()}")
    with tqdm(total=len(plan.trials), desc=f"sweep {plan.spec.name}", unit="trial",
              initial=watch.resumed, disable=not show_bar) as bar:

        def update() -> None:
            states = key_states(study, plan)
            for line in watch.new_lines(states):
                if progress:
                    say(line)
            bar.n = sum(settled(attempts) for attempts in states.values())
            bar.refresh()

        try:
            while any(process.poll() is None for process, _ in workers):
                time.sleep(POLL_SECONDS)
                update()
        except BaseException:
            for process, _ in workers:  # their trials return to the queue by heartbeat
                process.terminate()
            raise
        update()
    errors = []
    for process, log_path in workers:
        if process.returncode != 0:
            tail = log_path.read_text()[-LOG_TAIL_CHARACTERS:]
            errors.append(f"warning: worker {process.pid} exited with {process.returncode} "
                          f"(its trial returns to the queue by heartbeat); {log_path} ends:\n"
                          f"{tail}")
    return errors


def run_sweep(spec_path: str, profile: str = DEFAULT_PROFILE, workers: int = 1,
              storage_url: str | None = None, tracking_uri: str | None = None,
              state_root: Path | None = None, retry_failed: bool = False,
              progress: bool = True, keep_stale: bool = False,
              overrides: list[str] | None = None) -> SweepSummary:
    """Set up (or resume) a sweep, run ``workers`` worker processes, settle the cells.

    ``keep_stale``: keep the results of trials that ran with other code or data versions
    instead of running them again; ``overrides``: ``--set KEY=VALUE`` over the spec."""
    started = time.perf_counter()
    overrides = overrides or []
    spec = load_spec(spec_path, profile, overrides)
    plan, skipped = without_unavailable_baselines(make_plan(spec, spec_path), spec_path)
    for line in skipped:
        print(f"harness: warning: {line}", file=sys.stderr)
    check_data_paths(spec, spec_path)
    state_dir = state_dir_of(spec, state_root)
    storage_url = storage_url or default_storage(state_dir)
    preflight(plan, spec_path, storage_url, tracking_uri)
    storage = open_storage(storage_url, spec.scheduling)
    study = open_study(storage, study_name(spec))
    release_stale(study)  # a killed sweep's trials, so that a changed spec can replace them
    withdraw_respecified(study, storage, plan)
    states = key_states(study, plan)  # read after the withdrawal; one snapshot decides both
    respecified = respecified_keys(states, plan)
    stale = [key for key in stale_keys(states, plan, lambda trial: trial_versions(trial.config))
             if key not in respecified]
    enqueue_missing(study, plan, spec_path, retry_failed,
                    rerun=respecified if keep_stale else respecified + stale)
    tracking = SweepTracking(spec, tracking_uri)
    for cell in plan.cells:
        tracking.cell_run(cell.key, cell.tags(), code_version())
    errors: list[str] = []
    if workers > 0:
        started_workers = _start_workers(spec_path, spec, storage_url, state_dir,
                                         tracking.uri, workers, overrides)
        errors = _wait(started_workers, study, plan, progress)
    settle_cells(study, plan, tracking)
    summary = summarise(study, plan, state_dir, storage_url, tracking.uri,
                        time.perf_counter() - started, errors)
    summary.stale, summary.kept_stale, summary.skipped = stale, keep_stale, skipped
    summary.respecified = respecified
    return summary


def summarise(study, plan: Plan, state_dir: Path, storage_url: str, tracking_uri: str,
              wall_seconds: float, errors: list[str]) -> SweepSummary:
    states = key_states(study, plan)
    complete = [key for key, attempts in states.items() if completed(attempts)]
    failures = {key: attempts[-1].user_attrs.get(FAILURE_REASON, "its worker died")
                for key, attempts in states.items()
                if settled(attempts) and completed(attempts) is None}
    pending = len(states) - len(complete) - len(failures)
    return SweepSummary(plan.spec.name, plan.spec.profile, len(states), len(complete),
                        failures, pending, state_dir, storage_url, tracking_uri, wall_seconds,
                        errors)
