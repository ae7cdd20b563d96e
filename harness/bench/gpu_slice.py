"""A slice of the paper's DFT -> CCSD(T) work on malonaldehyde, sized to fit a short GPU lease.

Standard training, ASTEROID and ASTEROID without bias-aware training (``no_bat``), over a few
seeds: 200 MD17@CCSD(T) frames, rMD17 PBE/def2-SVP frames as the inaccurate level, EGNN 5 x 128
(``full``); or tiny sizes that run in seconds on a CPU (``smoke``, the test's). Each trial is one
``harness train`` process with tracking off (no MLflow on the device machine), several at once
so that they share one GPU. ``benchmarks/gpu-paper-slice.sh`` runs this on the device machine;
``harness.bench.gpu_slice_summary`` turns the trials into the report tables.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.bench.gpu_slice_summary import TrialRecord, write_summary

METHODS = ("standard", "asteroid", "no_bat")
ACCURATE_FILE = "malonaldehyde_ccsd_t-train.npz"
INACCURATE_FILE = "rmd17_malonaldehyde_train_01.npz"
GRACE_AFTER_TERM_S = 30.0  # a stopped trial writes its checkpoint, then is killed


def _schedule(learning_rate: float, batch_size: int, patience: int, interval: int,
              max_steps: int) -> dict[str, Any]:
    """Converging schedule: three halvings to the floor, each after ``patience`` flat steps.

    A validation loss counts as better only 2 % below the best so far (the default is 1 %), so
    that a stage converges within its cap on a short lease: ``4 * patience`` flat steps after
    its last such gain.
    """
    return {"learning_rate": learning_rate, "batch_size": batch_size,
            "validation_interval": interval, "plateau_patience": patience,
            "improvement_threshold": 0.02, "min_learning_rate": learning_rate / 8,
            "max_steps": max_steps}


@dataclass(frozen=True)
class SliceSize:
    """Frames, model and schedules of every trial; schedules count optimiser steps."""

    n_accurate_train: int
    n_inaccurate_train: int
    n_validation: int
    n_test: int
    hyperparameters: dict[str, int]
    gammas: list[float]
    seeds: list[int]
    schedules: dict[str, dict[str, Any]]
    device: str
    workers: int
    cost_ratio: float = 40.0  # declared, as in configs/malonaldehyde-egnn-asteroid-dft.yaml
    methods: tuple[str, ...] = field(default=METHODS)


SIZES: dict[str, SliceSize] = {
    # seconds on one CPU core per trial: every stage and the summary run
    "smoke": SliceSize(
        n_accurate_train=12, n_inaccurate_train=24, n_validation=6, n_test=10,
        hyperparameters={"n_features": 16, "n_layers": 2}, gammas=[1.0], seeds=[0],
        schedules={"accurate": _schedule(2e-3, 4, 4, 2, 40),
                   "inaccurate": _schedule(1e-3, 8, 4, 2, 40),
                   "fine_tune": _schedule(5e-4, 4, 4, 2, 40)},
        device="cpu", workers=3),
    # the lease: 9 trials at once on one GPU; the caps bound an ASTEROID trial (3 stages) at
    # 7000 steps, about 4 minutes at 35 ms per step (benchmarks/README.md)
    "full": SliceSize(
        n_accurate_train=200, n_inaccurate_train=900, n_validation=50, n_test=500,
        hyperparameters={"n_features": 128, "n_layers": 5}, gammas=[1.0], seeds=[0, 1, 2],
        schedules={"accurate": _schedule(1e-3, 10, 200, 50, 3000),
                   "inaccurate": _schedule(1e-3, 32, 200, 50, 2000),
                   "fine_tune": _schedule(3e-4, 10, 200, 50, 2000)},
        device="cuda", workers=9),
}


def trial_config(size: SliceSize, method: str, seed: int, data_dir: Path) -> dict[str, Any]:
    """One ``harness train`` config; every method trains on the same 200 accurate frames."""
    data: dict[str, Any] = {
        "accurate": {"path": str((data_dir / ACCURATE_FILE).resolve())},
        "n_accurate_train": size.n_accurate_train,
        "n_validation": size.n_validation, "n_test": size.n_test,
    }
    if method != "standard":
        data.update(inaccurate={"path": str((data_dir / INACCURATE_FILE).resolve())},
                    n_inaccurate_train=size.n_inaccurate_train, cost_ratio=size.cost_ratio)
    return {
        "name": f"malonaldehyde-{method}-seed{seed}", "method": method, "seed": seed,
        "device": size.device, "cpu_threads": 1, "progress": False,
        "data": data,
        "model": {"name": "egnn", "hyperparameters": dict(size.hyperparameters)},
        "asteroid": {"gammas": list(size.gammas), "gamma_scale": "median"},
        "schedules": {kind: dict(schedule) for kind, schedule in size.schedules.items()},
        # the lease's time plan counts one fine-tuning run per trial, at the size's own rate
        "fine_tune": {"learning_rate_factors": [1.0]},
        "tracking": {"enabled": False},
    }


@dataclass
class _Running:
    record: TrialRecord
    process: subprocess.Popen[bytes]
    started: float
    log: Any


def _start(config: dict[str, Any], runs_dir: Path) -> _Running:
    folder = runs_dir / config["name"]
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "trial.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log = open(folder / "train.log", "wb")  # noqa: SIM115 (closed when the trial ends)
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "train", str(config_path), "--output", str(folder)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    record = TrialRecord(name=config["name"], method=config["method"], seed=config["seed"],
                         folder=str(folder), config=config)
    return _Running(record, process, time.perf_counter(), log)


def _finish(running: _Running, stopped: bool) -> TrialRecord:
    running.log.close()
    running.record.returncode = running.process.returncode
    running.record.wall_seconds = time.perf_counter() - running.started
    running.record.stopped_at_deadline = stopped
    return running.record


def _stop(running: _Running) -> None:
    """SIGTERM (the trainer checkpoints and exits), then SIGKILL after a grace period."""
    running.process.send_signal(signal.SIGTERM)
    try:
        running.process.wait(GRACE_AFTER_TERM_S)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


def run_trials(configs: list[dict[str, Any]], runs_dir: Path, workers: int,
               deadline_s: float | None = None, poll_s: float = 0.5) -> list[TrialRecord]:
    """Run the trials, ``workers`` processes at once; stop those still running at the deadline.

    Wall seconds per trial include its process start and data loading.
    """
    start = time.perf_counter()
    waiting, running, done = list(configs), [], []
    while waiting or running:
        while waiting and len(running) < workers:
            running.append(_start(waiting.pop(0), runs_dir))
        time.sleep(poll_s)
        late = deadline_s is not None and time.perf_counter() - start > deadline_s
        for trial in list(running):
            if trial.process.poll() is None and not late:
                continue
            if trial.process.poll() is None:
                _stop(trial)
            running.remove(trial)
            done.append(_finish(trial, stopped=late and trial.process.returncode != 0))
        if late:
            done.extend(TrialRecord(name=config["name"], method=config["method"],
                                    seed=config["seed"], folder="", config=config,
                                    stopped_at_deadline=True) for config in waiting)
            waiting = []
    order = {config["name"]: index for index, config in enumerate(configs)}
    return sorted(done, key=lambda record: order[record.name])


def run_slice(size_name: str, data_dir: Path, runs_dir: Path, out_dir: Path,
              workers: int | None = None, deadline_s: float | None = None,
              device: str | None = None, seeds: list[int] | None = None) -> dict[str, Any]:
    """Every method x seed of the size, then ``summary.json`` and ``summary.md`` in out_dir."""
    size = SIZES[size_name]
    overrides = {"device": device, "seeds": seeds}
    size = SliceSize(**{**size.__dict__,
                        **{key: value for key, value in overrides.items() if value is not None}})
    configs = [trial_config(size, method, seed, data_dir)
               for seed in size.seeds for method in size.methods]
    started = time.perf_counter()
    records = run_trials(configs, runs_dir, workers or size.workers, deadline_s)
    return write_summary(records, out_dir, {
        "size": size_name, "device": size.device, "workers": workers or size.workers,
        "deadline_s": deadline_s, "slice_wall_seconds": time.perf_counter() - started})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--data", required=True, help=f"folder with {ACCURATE_FILE} and "
                        f"{INACCURATE_FILE}")
    parser.add_argument("--runs", required=True, help="trial folders (checkpoints, logs)")
    parser.add_argument("--out", required=True, help="summary.json and summary.md")
    parser.add_argument("--workers", type=int, help="trials at once (default: the size's)")
    parser.add_argument("--deadline", type=float, help="seconds after which to stop trials")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: the size's")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the size's")
    args = parser.parse_args(argv)
    summary = run_slice(args.size, Path(args.data), Path(args.runs), Path(args.out),
                        args.workers, args.deadline, args.device, args.seeds)
    print((Path(args.out) / "summary.md").read_text())
    return 0 if summary["all_trials_finished"] else 1


if __name__ == "__main__":
    sys.exit(main())
