"""The GPU slice script runs end to end at smoke size on a CPU, so that it cannot rot.

Its data are toy npz files in the real files' formats (MD17@CCSD(T) and rMD17 keys), so the
test needs neither ../shared/data nor a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.bench.gpu_slice import (
    ACCURATE_FILE,
    INACCURATE_FILE,
    METHODS,
    SIZES,
    trial_config,
)
from harness.bench.gpu_slice_summary import (
    TrialRecord,
    add_bench_figures,
    summarise,
    training_frames_per_second,
    write_summary,
)
from harness.train.config import parse_config
from harness.train.experiment import run

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "benchmarks" / "gpu-paper-slice.sh"
MALONALDEHYDE = np.array([6, 6, 6, 8, 8, 1, 1, 1, 1])


def _toy_level(n_frames: int, seed: int, stiffness: float) -> dict[str, np.ndarray]:
    """Harmonic energies about a fixed geometry, in kcal/mol and kcal/mol/A."""
    rng = np.random.default_rng(seed)
    reference = np.random.default_rng(0).normal(scale=1.2, size=(9, 3))
    positions = reference + rng.normal(scale=0.1, size=(n_frames, 9, 3))
    displacement = positions - reference
    energies = 0.5 * stiffness * (displacement**2).sum(axis=(1, 2))
    return {"positions": positions, "energies": energies, "forces": -stiffness * displacement}


def write_toy_data(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    accurate = _toy_level(40, seed=1, stiffness=50.0)
    np.savez(folder / ACCURATE_FILE, R=accurate["positions"], z=MALONALDEHYDE,
             E=accurate["energies"][:, None], F=accurate["forces"],
             name=np.array("malonaldehyde"), theory=np.array("CCSD(T)"))
    inaccurate = _toy_level(40, seed=2, stiffness=45.0)
    np.savez(folder / INACCURATE_FILE, nuclear_charges=MALONALDEHYDE,
             coords=inaccurate["positions"], energies=inaccurate["energies"],
             forces=inaccurate["forces"])


def test_smoke_slice_script_writes_the_summary_of_every_method(tmp_path: Path):
    write_toy_data(tmp_path / "data")
    out = tmp_path / "out"
    environment = {**os.environ, "SIZE": "smoke", "RUN_TESTS": "0", "RUN_BENCH": "0",
                   "PYTHON": sys.executable, "DATA": str(tmp_path / "data"), "OUT": str(out),
                   "WORK": str(tmp_path / "work"),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                               os.environ.get("PYTHONPATH")]))}
    completed = subprocess.run(["bash", str(SCRIPT)], env=environment, capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [row["method"] for row in summary["methods"]] == list(METHODS)
    assert summary["all_trials_finished"]
    for row in summary["methods"]:
        assert row["finished"] == row["trials"] == len(SIZES["smoke"].seeds)
        assert row["force_mae_mean"] > 0 and row["paper_force_mae"]
        assert row["wall_seconds_max"] > 0 and row["training_frames_per_s_mean"] > 0
    table = (out / "summary.md").read_text()
    assert all(f"| {method} |" in table for method in METHODS)
    with tarfile.open(out / "trials.tar.gz") as archive:
        names = archive.getnames()
    assert sum(name.endswith("results.json") for name in names) == len(summary["trials"])
    assert not any("checkpoints" in name or name.endswith("model.pt") for name in names)


@pytest.mark.parametrize("method", METHODS)
def test_full_size_configs_are_the_issue_slice_and_validate(method: str, tmp_path: Path):
    full = SIZES["full"]
    content = trial_config(full, method, seed=2, data_dir=tmp_path)
    config = parse_config(content, "<gpu slice>")
    assert config.data.n_accurate_train == 200 and config.device == "cuda"
    assert config.model.hyperparameters == {"n_features": 128, "n_layers": 5}
    assert not config.tracking.enabled and full.seeds == [0, 1, 2]
    assert (config.data.inaccurate is None) == (method == "standard")
    for schedule in (config.schedules.accurate, config.schedules.inaccurate,
                     config.schedules.fine_tune):
        assert schedule.learning_rate_floor < schedule.learning_rate
        assert schedule.max_steps > 4 * schedule.plateau_patience  # room to converge


def _record(method: str, seed: int, force_mae: float | None, folder: Path) -> TrialRecord:
    config = trial_config(SIZES["smoke"], method, seed, folder)
    record = TrialRecord(name=f"{method}-{seed}", method=method, seed=seed, folder="",
                         config=config, returncode=0, wall_seconds=10.0 + seed)
    if force_mae is not None:
        stage = {"name": "standard", "steps": 100, "stopped_by": "converged", "best_step": 50,
                 "converged": True, "still_improving_at_cap": False,
                 "best_validation_loss": 1.0, "final_learning_rate": 1e-4, "seconds": 2.0}
        record.folder = str(folder / record.name)
        Path(record.folder).mkdir(parents=True)
        (Path(record.folder) / "results.json").write_text(json.dumps({
            "device": "cpu", "test": {"force_mae": force_mae}, "stages": [stage],
            "not_converged_stages": [], "training_seconds": 2.0, "data": {}, "details": {}}))
    return record


def test_summary_gives_mean_and_spread_over_seeds_and_flags_missing_trials(tmp_path: Path):
    records = [_record("standard", 0, 1.0, tmp_path), _record("standard", 1, 3.0, tmp_path),
               _record("no_bat", 0, None, tmp_path)]
    summary = summarise(records, {"size": "smoke"})
    standard, no_bat = summary["methods"]
    assert standard["force_mae_mean"] == pytest.approx(2.0)
    assert standard["force_mae_std"] == pytest.approx(np.sqrt(2.0))
    assert standard["all_converged"] and standard["paper_force_mae"]["Table 1, EGNN"] == 1.466
    assert standard["training_frames_per_s_mean"] == pytest.approx(100 * 4 / 2.0)
    assert no_bat["finished"] == 0 and not no_bat["all_converged"]
    assert not summary["all_trials_finished"] and not summary["all_converged"]


def test_frames_per_second_use_each_stage_kind_batch_size():
    config = {"schedules": {"accurate": {"batch_size": 10}, "inaccurate": {"batch_size": 32},
                            "fine_tune": {"batch_size": 5}}}
    stages = [{"name": "stage1", "steps": 10, "seconds": 1.0},
              {"name": "stage2_gamma1", "steps": 10, "seconds": 1.0},
              {"name": "stage3_gamma1", "steps": 10, "seconds": 2.0}]
    assert training_frames_per_second({"stages": stages}, config) == pytest.approx(470 / 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_smoke_asteroid_trial_trains_and_tests_on_cuda(tmp_path: Path):
    write_toy_data(tmp_path / "data")
    content = {**trial_config(SIZES["smoke"], "asteroid", 0, tmp_path / "data"),
               "device": "cuda"}
    results = run(parse_config(content, "<gpu slice>"), output_dir=tmp_path / "run")
    assert results["device"].startswith("cuda")
    assert [stage["name"] for stage in results["stages"]] == [
        "stage1", "stage2_gamma1", "stage3_gamma1"]
    assert np.isfinite(results["test"]["force_mae"])


def test_bench_figures_join_the_summary_after_the_benchmarks(tmp_path: Path):
    write_summary([_record("standard", 0, 1.0, tmp_path)], tmp_path,
                  {"size": "smoke", "device": "cpu", "workers": 1, "slice_wall_seconds": 1.0})
    row = {"model": "egnn", "device": "cuda", "threads": 1, "molecule": "ethanol",
           "train_frames_per_s": 1234.0, "force_ms": 1.5}
    (tmp_path / "bench-models-cuda.json").write_text(json.dumps({"rows": [row]}))
    add_bench_figures(tmp_path)
    assert "| egnn | cuda | 1 | ethanol | 1234 | 1.50 |" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["bench_models"] == [row]
