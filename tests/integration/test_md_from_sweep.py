"""``harness md sweep`` on the models of a finished training sweep (``from_sweep``).

A tiny sweep trains standard, ASTEROID (two gammas) and xTB-only models; the MD sweep then runs
dynamics on exactly the trials the sweep selected, found in MLflow, and trains nothing itself:
Langevin at two step sizes and NVE, two seeds each; the results file, the MLflow records, the
progress lines and a resumed run are checked.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sweep_checks import (
    mlflow_runs,
    run_sweep,
    sweep_command,
    tracking_uri,
    write_tiny_spec,
)

from harness.cli import main
from harness.md.tracking import log_md_run, supersede_md_runs
from harness.report.collect import MD_METRICS, MD_TAGS, Store, _records, typed_md

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def md_spec(folder: Path, sweep_spec: Path, methods: list[str]) -> dict[str, Any]:
    return {
        "name": "md-from-sweep-test", "dataset": str(PROJECT_ROOT / "data" / "ethanol"),
        "runs_dir": str(folder / "md-runs"), "results": str(folder / "results" / "md"),
        "from_sweep": {"spec": str(sweep_spec), "budget": 6, "inaccurate_level": "xtb",
                       "seeds": [0]},
        "arms": [{"method": method} for method in methods],
        "md": {"step_sizes_fs": [0.5], "duration_ps": 0.02, "seeds": 2,
               "save_interval_fs": 5.0},
        "tracking": {"uri": tracking_uri(folder)},
    }


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("md-from-sweep")
    spec = write_tiny_spec(folder, methods=["standard", "asteroid", "inaccurate_only"])
    run_sweep(sweep_command(spec, folder, workers=1))
    return folder, spec


def test_md_runs_on_the_trials_the_sweep_selected_and_trains_nothing(
        finished_sweep: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    folder, sweep_spec = finished_sweep
    spec = md_spec(folder, sweep_spec, ["asteroid", "standard", "inaccurate_only"])
    spec["runs_dir"] = str(tmp_path / "md-runs")
    spec["md"].update(step_sizes_fs=[0.5, 2.0], nve_duration_ps=0.02)
    spec_path = tmp_path / "md.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["md", "sweep", str(spec_path)]) == 0

    selected = {run.data.tags["method"]: run.info.run_id
                for run in mlflow_runs(folder, "tiny")
                if run.data.tags.get("selected") == "true"}
    rows = pd.read_csv(Path(spec["results"]).with_suffix(".csv"))
    assert len(rows) == 3 * 2 * 2  # arms x step sizes x MD seeds
    assert set(rows["method"]) == {"asteroid", "standard", "inaccurate_only"}
    for method, model_run in rows.groupby("method")["model_run_id"]:
        assert set(model_run) == {selected[method]}
    assert rows["nve_stable"].notna().all() and rows["friction_per_fs"].eq(0.002).all()
    summary = json.loads(Path(spec["results"]).with_suffix(".json").read_text())["summary"]
    assert len(summary) == 3 * 2 and all(0 <= entry["stable_fraction"] <= 1 for entry in summary)
    assert not (tmp_path / "md-runs" / "models").exists()  # nothing trained here
    md_runs = mlflow_runs(folder, "md-from-sweep-test", "md")
    assert len(md_runs) == 12
    for logged in md_runs:
        tags = logged.data.tags
        assert tags["model_run_id"] in selected.values() and tags["sweep"] == spec["name"]
        assert tags["molecule"] == "ethanol" and tags["step_size_fs"] in {"0.5", "2.0"}
        assert "md.energy_drift_per_atom_per_ps" in logged.data.metrics

    printed = capsys.readouterr().out
    assert "\r" not in printed
    lines = printed.splitlines()
    cells = [line for line in lines if line.startswith("MD cell ")]
    assert len(cells) == 6 and cells[0].startswith("MD cell 1/6: asteroid, training seed 0, ")
    assert all(re.fullmatch(r"MD cell \d/6: \w+, training seed 0, (0.5|2) fs: "
                            r"[0-2]/2 stable \(\d+\.\d s\)", line) for line in cells)
    assert f"results: {spec['results']}.csv, {spec['results']}.json" in lines
    assert any(re.fullmatch(r"  inaccurate_only: 0.5 fs [0-2]/2, 2 fs [0-2]/2", line)
               for line in lines)

    assert main(["md", "sweep", str(spec_path), "--json"]) == 0  # resumed: nothing runs again
    assert len(mlflow_runs(folder, "md-from-sweep-test", "md")) == 12
    pd.testing.assert_frame_equal(rows, pd.read_csv(Path(spec["results"]).with_suffix(".csv")))
    printed = capsys.readouterr()
    assert json.loads(printed.out)["summary"] == summary  # stdout: the JSON alone
    assert printed.err.count("(cached)") == 6

    spec["md"]["seeds"] = 3  # finished cells of other settings run again, never reused
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["md", "sweep", str(spec_path)]) == 0
    assert "(cached)" not in capsys.readouterr().err
    assert len(pd.read_csv(Path(spec["results"]).with_suffix(".csv"))) == 3 * 2 * 3
    md_runs = mlflow_runs(folder, "md-from-sweep-test", "md")
    current = [run for run in md_runs if run.data.tags.get("superseded") != "true"]
    assert len(md_runs) == 12 + 18 and len(current) == 18  # each cell's old runs superseded


def test_a_cell_of_a_replaced_model_runs_again(finished_sweep: tuple[Path, Path],
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    folder, sweep_spec = finished_sweep
    spec = md_spec(folder, sweep_spec, ["standard"])
    spec.update(name="md-replaced-test", runs_dir=str(tmp_path / "md-runs"))
    spec_path = tmp_path / "md.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["md", "sweep", str(spec_path)]) == 0
    (cell,) = (tmp_path / "md-runs" / "md").glob("*/*.json")
    stored = json.loads(cell.read_text())
    stored["model_source"] = "runs:/0123456789abcdef0123456789abcdef/model.pt"  # an older model
    cell.write_text(json.dumps(stored))
    capsys.readouterr()
    assert main(["md", "sweep", str(spec_path)]) == 0
    assert len(mlflow_runs(folder, "md-replaced-test", "md")) == 4
    assert len(current_md_runs(folder, "md-replaced-test")) == 2
    (progress,) = [line for line in capsys.readouterr().out.splitlines()
                   if line.startswith("MD cell ")]
    assert progress.startswith("MD cell 1/1: standard, ") and "(cached)" not in progress
    assert json.loads(cell.read_text())["model_source"] != stored["model_source"]

    shutil.rmtree(tmp_path / "md-runs")  # stored rows lost (another checkout, a clean-up)
    assert main(["md", "sweep", str(spec_path)]) == 0
    assert len(mlflow_runs(folder, "md-replaced-test", "md")) == 6
    assert len(current_md_runs(folder, "md-replaced-test")) == 2  # never counted twice


def current_md_runs(folder: Path, experiment: str) -> list:
    return [run for run in mlflow_runs(folder, experiment, "md")
            if run.data.tags.get("superseded") != "true"]


def test_an_arm_the_sweep_did_not_train_is_a_one_line_error(
        finished_sweep: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    folder, sweep_spec = finished_sweep
    spec = md_spec(folder, sweep_spec, ["no_bat"])
    spec_path = tmp_path / "md.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["md", "sweep", str(spec_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "no finished, selected 'no_bat' trial of sweep 'tiny'" in error
    assert "harness sweep run" in error and str(spec_path) in error


def test_superseding_a_cell_marks_its_runs_and_no_other(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cells = [("standard", 0, 0.5), ("standard", 0, 0.5), ("standard", 0, 2.0),
             ("standard", 1, 0.5), ("asteroid", 0, 0.5)]
    for label, training_seed, step_fs in cells:
        row = {"step_fs": step_fs, "seed": 0, "ensemble": "langevin", "stable": 1.0}
        log_md_run(row, "md-superseded", uri,
                   {"method": label, "label": label, "training_seed": str(training_seed)},
                   {"model_source": "runs:/old/model.pt"})
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("md-superseded")
    supersede_md_runs("md-superseded", uri, "standard", 0, 0.5, keep_source="runs:/old/model.pt")
    assert not [run for run in client.search_runs([experiment.experiment_id])
                if run.data.tags.get("superseded")]  # reused rows keep their model's runs
    supersede_md_runs("md-superseded", uri, "standard", 0, 0.5)

    runs = client.search_runs([experiment.experiment_id])
    superseded = sorted((run.data.tags["label"], run.data.tags["training_seed"],
                         run.data.tags["step_size_fs"]) for run in runs
                        if run.data.tags.get("superseded") == "true")
    assert superseded == [("standard", "0", "0.5")] * 2
    store = Store(uri, client, {experiment.experiment_id: "md-superseded"})
    kept = typed_md(_records(store, runs, MD_TAGS, MD_METRICS))
    assert len(kept) == 3
