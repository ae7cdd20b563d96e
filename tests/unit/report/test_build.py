"""``harness report`` end to end on the synthetic store: files, MLflow artifacts, atomic
replacement and the one-line errors of the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.cli import main
from harness.report import build


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri: str, experiment: str, role: str) -> list:
    client = _client(uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return list(client.search_runs([experiment_id], f"tags.`harness.role` = '{role}'"))


def test_report_writes_its_files_and_logs_them_to_a_report_run(writable_store: str,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "reports"
    outcome = build.build_report(writable_store, None, out)
    names = {path.relative_to(out).as_posix() for path in outcome.files}
    assert {"results.csv", "metrics.json", "report.md", "report.html"} <= names
    assert {name for name in names if name.startswith("figures/")} >= {
        "figures/force-mae-vs-budget-toy-ethanol-egnn-inaccurate-level-xtb.png",
        "figures/md-stability-toy-md-ethanol.png", "figures/bias-weights-toy-ethanol-egnn-xtb.png"}
    assert len(pd.read_csv(out / "results.csv")) == 19
    text = (out / "report.md").read_text()
    assert text.splitlines()[2].startswith("**ASTEROID beats standard training (the 95% CI of "
                                           "the reduction excludes zero) in 2 of 2 comparisons")
    assert "- At 25 CCSD-label equivalents on ethanol (toy sweep, EGNN)" in text
    assert "- MD on ethanol (toy-md sweep; Langevin at 500 K, 1 ps per trajectory" in text
    assert "## Provenance" in text and "by harness report from 19 trial runs" in text
    assert "*No setting run at two or more cost ratios.*" in text
    assert "**0.320 ± 0.028**" in text and "0.840" in text  # bold best; the paper's ethanol
    page = (out / "report.html").read_text()
    assert "<b>" in page and page.count('<img src="data:image/png;base64,') == len(
        [name for name in names if name.startswith("figures/")])
    [report_run] = _runs(writable_store, "toy", "report")
    logged = {info.path for info in _client(writable_store).list_artifacts(
        report_run.info.run_id, "report")}
    assert {"report/report.md", "report/results.csv", "report/figures"} <= logged
    assert report_run.info.run_id in outcome.logged_to and len(outcome.logged_to) == 2


def test_a_second_report_replaces_the_report_run_and_the_folder(writable_store: str,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "reports"
    first = build.build_report(writable_store, ["toy"], out)
    (out / "stale.txt").write_text("from an older report")
    second = build.build_report(writable_store, ["toy"], out)
    [report_run] = _runs(writable_store, "toy", "report")
    assert report_run.info.run_id == second.logged_to[0] != first.logged_to[0]
    assert not (out / "stale.txt").exists()
    assert not list(tmp_path.glob(".reports-*"))


def test_a_failed_report_leaves_the_previous_one_intact(writable_store: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.md").write_text("previous report")

    def broken(*args: object) -> None:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(build, "assemble", broken)
    with pytest.raises(RuntimeError):
        build.build_report(writable_store, ["toy"], out)
    assert (out / "report.md").read_text() == "previous report"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["reports", "store"]


def test_an_experiment_without_runs_gives_a_report_of_one_line_notes(writable_store: str,
                                                                     tmp_path: Path) -> None:
    outcome = build.build_report(writable_store, ["other"], tmp_path / "reports")
    text = (tmp_path / "reports" / "report.md").read_text()
    assert outcome.headline[0].startswith("No headline")
    assert "*No finished, selected trials in the record.*" in text
    assert "*No MD runs (harness.role=md) in the record.*" in text
    assert pd.read_csv(tmp_path / "reports" / "results.csv").empty


@pytest.mark.parametrize(("arguments", "named"), [
    (["--tracking-uri", "sqlite:///{tmp}/absent/mlflow.db"], "absent/mlflow.db"),
    (["--experiment", "nope"], "'nope'"),
])
def test_command_errors_are_one_line_with_exit_status_2(
        arguments: list[str], named: str, toy_store: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    arguments = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]
    if "--tracking-uri" not in arguments:
        arguments += ["--tracking-uri", toy_store]
    assert main(["report", *arguments, "--out", str(tmp_path / "reports")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("harness: error: ") and named in error
    assert error.count("\n") == 1
    assert not (tmp_path / "reports").exists()
