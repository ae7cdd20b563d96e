"""``harness report --from-reports``: a table split across reports merges back into the
table of the whole, and bad sources get one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.report import build
from harness.report.merge import merge_reports


@pytest.fixture(scope="module")
def whole_and_parts(toy_store: str, tmp_path_factory: pytest.TempPathFactory
                    ) -> tuple[Path, list[Path]]:
    """The toy record's report, and its results.csv split by budget into two report folders
    (as if each budget had been recorded in its own MLflow store)."""
    folder = tmp_path_factory.mktemp("merge")
    whole = folder / "whole"
    build.build_report(toy_store, ["toy"], whole)
    results = pd.read_csv(whole / "results.csv", dtype=str, keep_default_na=False)
    parts = []
    for budget, rows in results.groupby("budget"):
        part = folder / f"budget-{budget}"
        part.mkdir()
        rows.to_csv(part / "results.csv", index=False)
        parts.append(part)
    return whole, parts


def _accuracy_tables(report: str) -> list[str]:
    """The table lines of the force-error section."""
    section = report.split("## Force error by method and budget")[1].split("\n## ")[0]
    return [line for line in section.splitlines() if line.startswith("|")]


def test_the_merged_parts_give_the_table_and_headline_of_the_whole(
        whole_and_parts: tuple[Path, list[Path]], tmp_path: Path) -> None:
    whole, parts = whole_and_parts
    assert len(parts) == 2
    lines, files = merge_reports(parts, tmp_path / "merged")
    merged = (tmp_path / "merged" / "report.md").read_text()
    assert _accuracy_tables(merged) == _accuracy_tables((whole / "report.md").read_text())
    assert len(_accuracy_tables(merged)) > 4
    assert "ASTEROID beats standard training (the 95% CI of the reduction excludes zero) in 2 " \
           "of 2 comparisons" in lines[0]
    assert any(path.name.startswith("force-mae-vs-budget") for path in files)
    table = pd.read_csv(tmp_path / "merged" / "results.csv")
    assert len(table) == len(pd.read_csv(whole / "results.csv"))
    assert set(table["source"]) == {str(part) for part in parts}
    assert f"{parts[0]}: " in merged  # the provenance names each source


def test_the_command_merges_and_refuses_mlflow_options(
        whole_and_parts: tuple[Path, list[Path]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, parts = whole_and_parts
    out = tmp_path / "merged"
    assert main(["report", "--from-reports", *map(str, parts), "--out", str(out)]) == 0
    assert "from 2 reports" in capsys.readouterr().out
    assert main(["report", "--from-reports", str(parts[0]), "--profile", "b50",
                 "--out", str(out)]) != 0
    assert "key '--profile'" in capsys.readouterr().err


def test_overlapping_reports_are_refused_and_nothing_is_written(
        whole_and_parts: tuple[Path, list[Path]], tmp_path: Path) -> None:
    whole, parts = whole_and_parts
    with pytest.raises(ConfigError, match="key 'run_id': run .* is in more than one report"):
        merge_reports([whole, parts[0]], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_a_folder_without_a_results_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothing/results.csv: key '--from-reports': no "
                                          "such file"):
        merge_reports([tmp_path / "nothing"], tmp_path / "merged")


def test_a_results_table_without_a_column_is_named(
        whole_and_parts: tuple[Path, list[Path]], tmp_path: Path) -> None:
    _, parts = whole_and_parts
    broken = tmp_path / "broken"
    broken.mkdir()
    pd.read_csv(parts[0] / "results.csv").drop(columns="force_mae").to_csv(
        broken / "results.csv", index=False)
    with pytest.raises(ConfigError, match="broken/results.csv: key 'force_mae': column "
                                          "missing"):
        merge_reports([broken], tmp_path / "merged")
