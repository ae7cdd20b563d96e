"""The paper's published numbers and the side-by-side table for MD17 molecules."""

from __future__ import annotations

import pandas as pd
from report_toy import frame_of, standard, trial

from harness.report.comparison import paper_tables
from harness.report.paper import data_kind, is_md17_data, matching_rows


def test_rows_match_method_model_and_kind_of_cheap_data() -> None:
    [row] = matching_rows("ethanol", "egnn", "asteroid", "mmff94")
    assert (row.table, row.row, row.values[-1]) == ("Table 1", "EGNN ASTEROID", 0.637)
    assert matching_rows("ethanol", "egnn", "asteroid", "xtb") == []  # no such paper setting
    gemnet_dft = matching_rows("malonaldehyde", "gemnet_t", "asteroid", "dft")
    assert {(row.table, row.values[2]) for row in gemnet_dft} == {("Table 3", 0.338),
                                                                   ("Table 4", 0.338)}
    assert matching_rows("benzene", "gemnet_t", "delta_ml", "dft") == []  # not given: "-"
    assert [row.row for row in matching_rows("toluene", "sgdml", "sgdml", "")] == ["sGDML"]


def test_md17_data_are_recognised_by_molecule_and_accurate_level() -> None:
    assert is_md17_data("ethanol", "ccsd_t") and is_md17_data("ethanol", "CCSD(T)")
    assert is_md17_data("aspirin", "ccsd")
    assert not is_md17_data("ethanol", "ccsd")  # the embedded ethanol: CCSD/cc-pVDZ
    assert (data_kind("gaff2"), data_kind("dft"), data_kind("xtb")) == ("empirical", "dft", "")


def test_comparison_says_plainly_when_the_setting_differs(toy_frame: pd.DataFrame) -> None:
    [table] = paper_tables(toy_frame)
    row = table.cells.loc["standard training, EGNN (Table 1, EGNN standard)"]
    assert row["paper"] == "0.840" and row["our budget"] == "100"  # nearest to the paper's 200
    assert row["same setting"].startswith("no: our accurate level is ccsd")


def test_comparison_says_yes_for_the_papers_own_setting() -> None:
    runs = [trial("asteroid", 200, seed, 0.7, level="dft", ratio="20", gamma=0.5,
                  molecule="malonaldehyde", model="gemnet_t", accurate_level="ccsd_t")
            for seed in (0, 1)]
    [table] = paper_tables(frame_of(runs))
    assert table.cells.at["ASTEROID, GemNet-T, DFT, cost ratio 20 (Table 3, ASTEROID)",
                          "same setting"] == "yes"
    assert table.cells.at["ASTEROID, GemNet-T, DFT, cost ratio 20 (Table 4, ASTEROID)",
                          "same setting"] == "no: budget 200 vs 250"


def test_no_comparison_for_molecules_outside_md17() -> None:
    assert paper_tables(frame_of([standard(25, 0, 1.0, molecule="water")])) == []
