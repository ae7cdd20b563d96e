"""The bad-input table: cases run on the real CLI in a temporary folder, rendered as markdown."""

from __future__ import annotations

from harness.bench.bad_input import CASES, CONVERTED, Outcome, markdown, run_all


def test_there_are_at_least_fifteen_kinds_with_distinct_names() -> None:
    names = [case.name for case in CASES]
    assert len(names) >= 15 and len(set(names)) == len(names)


def test_fast_cases_are_refused_in_one_line_and_leave_nothing() -> None:
    outcomes = run_all(["negative budget", "unreachable Optuna", "hartree / bohr (e_unit"])
    assert [outcome.case.name for outcome in outcomes] == [
        "npz declaring hartree / bohr (e_unit, r_unit)", "negative budget",
        "unreachable Optuna storage"]
    for outcome in outcomes:
        assert outcome.as_intended, outcome
    assert outcomes[0].case.expected == CONVERTED
    assert "hartree, bohr -> kcal/mol, Angstrom" in outcomes[0].message
    assert "$TMP" in outcomes[1].message and "key 'budgets'" in outcomes[1].message


def test_markdown_marks_what_is_not_as_intended_and_compares_with_before() -> None:
    case = CASES[0]
    now = Outcome(case, "harness x", 2, 1, "harness: error: a | b", [], 1.0)
    before = Outcome(case, "harness x", 0, 40, "Traceback", ["state/ (3 files)"], 9.0)
    text = markdown([now], [before])
    assert "**1 of 1 cases as intended.**" in text
    row = [line for line in text.splitlines() if line.startswith("| 1 |")][0]
    assert "a \\| b" in row and "state/ (3 files)" in row and row.endswith("| yes |")
    assert "| **no** |" in markdown([before])
