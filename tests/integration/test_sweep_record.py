"""``harness sweep save`` and ``load``: a sweep's finished trials go on from another machine.

A tiny sweep runs in one folder and is saved; a second folder with no state and an empty MLflow
database loads the record, and ``harness sweep run`` there must record every trial with the
same metrics and artifacts without training any of them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sweep_checks import (
    PROJECT_ROOT,
    mlflow_runs,
    run_sweep,
    sweep_command,
    tracking_uri,
    write_tiny_spec,
)

KEYS = ["ethanol/ccsd/egnn/standard/b6/s0", "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g0.5/s0",
        "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g2/s0"]


def harness(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *arguments], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=240)


def by_key(folder: Path) -> dict[str, object]:
    return {run.data.tags["trial_key"]: run for run in mlflow_runs(folder, "record")}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the spec, the folder the sweep ran in, its saved record)."""
    folder = tmp_path_factory.mktemp("original")
    spec = write_tiny_spec(folder, name="record", methods=["standard", "asteroid"])
    run_sweep(sweep_command(spec, folder, workers=2))
    record = folder / "record"
    completed = harness("sweep", "save", str(spec), "--out", str(record),
                        "--state-dir", str(folder / "state"))
    assert completed.returncode == 0, completed.stderr
    assert "saved 3 trial(s)" in completed.stdout
    return spec, folder, record


def test_the_record_keeps_results_models_and_bias_tables_but_no_checkpoints(
        saved: tuple[Path, Path, Path]) -> None:
    _, _, record = saved
    content = json.loads((record / "record.json").read_text())
    assert sorted(content["trials"]) == sorted(KEYS)
    assert content["sweep"] == "record" and content["saved_with"]["code_version"]
    for key in KEYS:
        files = sorted(path.relative_to(record / "trials" / key).as_posix()
                       for path in (record / "trials" / key).rglob("*") if path.is_file())
        expected = ["config.yaml", "model.pt", "results.json", "versions.json"]
        if "asteroid" in key:
            expected = sorted([*expected, "bias/bias_weights.npz"])
        assert files == expected


def test_a_loaded_record_is_recorded_again_without_training(saved: tuple[Path, Path, Path],
                                                            tmp_path: Path) -> None:
    spec, original, record = saved
    loaded = harness("sweep", "load", str(spec), str(record), "--state-dir",
                     str(tmp_path / "state"))
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded 3 trial(s)" in loaded.stdout
    completed = run_sweep(sweep_command(spec, tmp_path, workers=2))
    assert "3 of 3 trials complete" in completed.stdout
    logs = "".join(path.read_text() for path in (tmp_path / "state").rglob("worker-*.log"))
    assert logs.count("trained before; recording it from its folder") == 3
    assert ": training" not in logs

    before, after = by_key(original), by_key(tmp_path)
    assert sorted(after) == sorted(KEYS)
    for key in KEYS:
        old, new = before[key], after[key]
        assert new.info.status == "FINISHED"
        for name in ("test.force_mae", "test.energy_mae", "validation_loss", "budget_spent"):
            assert new.data.metrics[name] == old.data.metrics[name], (key, name)
        assert new.data.params == old.data.params
        assert new.data.tags["selected"] == old.data.tags["selected"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri(tmp_path))
    asteroid = after[KEYS[1]]
    history = [metric for metric in client.get_metric_history(asteroid.info.run_id,
                                                              "stage1.validation_loss")]
    original_history = MlflowClient(tracking_uri(original)).get_metric_history(
        before[KEYS[1]].info.run_id, "stage1.validation_loss")
    assert [(m.step, m.value) for m in history] == [(m.step, m.value) for m in original_history]
    artifacts = {info.path for info in client.list_artifacts(asteroid.info.run_id, "bias")}
    assert {"bias/bias_weights.npz", "bias/bias_weights.csv", "bias/bias_histogram.png"} \
        <= artifacts


def test_a_model_over_the_size_limit_is_left_out_and_its_trial_still_loads(
        saved: tuple[Path, Path, Path], tmp_path: Path) -> None:
    spec, original, _ = saved
    record = tmp_path / "record"
    completed = harness("sweep", "save", str(spec), "--out", str(record), "--state-dir",
                        str(original / "state"), "--max-model-mb", "0.001")
    assert completed.returncode == 0, completed.stderr
    assert "saved 3 trial(s) without their model file(s) over 0.001 MB" in completed.stdout
    content = json.loads((record / "record.json").read_text())
    assert content["models_left_out"] == {key: ["model.pt"] for key in KEYS}
    assert not list(record.rglob("model.pt"))

    loaded = harness("sweep", "load", str(spec), str(record), "--state-dir",
                     str(tmp_path / "state"))
    assert loaded.returncode == 0, loaded.stderr
    assert "3 of 3 trials complete" in run_sweep(sweep_command(spec, tmp_path)).stdout
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri(tmp_path))
    for key, run in by_key(tmp_path).items():
        assert run.info.status == "FINISHED"
        assert run.data.metrics["test.force_mae"] == \
            by_key(original)[key].data.metrics["test.force_mae"]
        artifacts = {info.path for info in client.list_artifacts(run.info.run_id)}
        assert "results.json" in artifacts and "model.pt" not in artifacts


def test_load_refuses_a_folder_where_the_sweep_ran(saved: tuple[Path, Path, Path]) -> None:
    spec, original, record = saved
    completed = harness("sweep", "load", str(spec), str(record), "--state-dir",
                        str(original / "state"))
    assert completed.returncode != 0
    assert "already holds this sweep's study" in completed.stderr


def test_load_refuses_a_record_of_other_code_and_names_its_commit(
        saved: tuple[Path, Path, Path], tmp_path: Path) -> None:
    spec, _, record = saved
    other = tmp_path / "other"
    shutil.copytree(record, other)
    for stamp in other.rglob("versions.json"):
        stamp.write_text(json.dumps({**json.loads(stamp.read_text()),
                                     "code_version": "src:elsewhere"}))
    completed = harness("sweep", "load", str(spec), str(other), "--state-dir",
                        str(tmp_path / "state"))
    assert completed.returncode != 0
    assert "ran with other code or data than this checkout" in completed.stderr
    assert "check that commit out" in completed.stderr
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("*.json"))


def test_load_names_a_missing_record(saved: tuple[Path, Path, Path], tmp_path: Path) -> None:
    spec, _, _ = saved
    completed = harness("sweep", "load", str(spec), str(tmp_path), "--state-dir",
                        str(tmp_path / "state"))
    assert completed.returncode != 0
    assert "record.json" in completed.stderr and "harness sweep save" in completed.stderr


def test_the_report_of_a_loaded_record_is_the_original_report(saved: tuple[Path, Path, Path],
                                                              tmp_path: Path) -> None:
    import pandas as pd

    spec, original, record = saved
    assert harness("sweep", "load", str(spec), str(record), "--state-dir",
                   str(tmp_path / "state")).returncode == 0
    run_sweep(sweep_command(spec, tmp_path, workers=1))
    tables = []
    for folder in (original, tmp_path):
        out = folder / "report"
        completed = harness("report", "--experiment", "record", "--out", str(out),
                            "--tracking-uri", tracking_uri(folder))
        assert completed.returncode == 0, completed.stderr
        tables.append(pd.read_csv(out / "results.csv").drop(columns="run_id")
                      .sort_values(["method", "gamma"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(*tables)
