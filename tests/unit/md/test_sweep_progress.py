"""What `harness md sweep` prints: one plain line per cell, and a short outcome."""

from __future__ import annotations

from harness.md.sweep_progress import cell_line, summary_lines


def test_a_cell_line_counts_stable_trajectories_and_says_when_it_was_cached() -> None:
    rows = [{"stable": True}] * 7 + [{"stable": False}]
    assert (cell_line(3, 36, "asteroid", 1, 0.5, rows, 41.26)
            == "MD cell 3/36: asteroid, training seed 1, 0.5 fs: 7/8 stable (41.3 s)")
    assert (cell_line(4, 36, "asteroid", 1, 1.0, rows, None)
            == "MD cell 4/36: asteroid, training seed 1, 1 fs: 7/8 stable (cached)")


def test_the_outcome_names_the_files_and_each_arms_stable_counts() -> None:
    summary = [{"label": "asteroid", "method": "asteroid", "step_fs": step, "n_trajectories": 48,
                "stable_fraction": fraction} for step, fraction in ((0.5, 1.0), (4.0, 0.125))]
    summary.append({"label": "xtb-only", "method": "inaccurate_only", "step_fs": 0.5,
                    "n_trajectories": 48, "stable_fraction": 0.875})
    assert summary_lines(summary, ["md.csv", "md.json"]) == [
        "results: md.csv, md.json",
        "stable trajectories per arm and step size (all training seeds):",
        "  asteroid: 0.5 fs 48/48, 4 fs 6/48",
        "  xtb-only: 0.5 fs 42/48"]
