"""What ``harness md sweep`` tells its user: a line per finished cell, and the outcome.

Plain lines (no carriage returns), so that a log file of an hours-long sweep reads like the
terminal; the stable counts are of the Langevin trajectories, e.g. ``7/8``.
"""

from __future__ import annotations

from typing import Any


def cell_line(done: int, cells: int, label: str, training_seed: int, step_fs: float,
              rows: list[dict[str, Any]], seconds: float | None) -> str:
    """``seconds`` None: the cell's stored rows were reused (cached)."""
    stable = sum(bool(row["stable"]) for row in rows)
    took = "cached" if seconds is None else f"{seconds:.1f} s"
    return (f"MD cell {done}/{cells}: {label}, training seed {training_seed}, {step_fs:g} fs: "
            f"{stable}/{len(rows)} stable ({took})")


def summary_lines(summary: list[dict[str, Any]], files: list[str]) -> list[str]:
    """Where the results went, and per arm the stable trajectories at each step size (over
    every training seed), from ``harness.md.results.summarise``."""
    per_arm: dict[str, list[str]] = {}
    for entry in summary:
        stable = round(entry["stable_fraction"] * entry["n_trajectories"])
        per_arm.setdefault(entry.get("label") or entry["method"], []).append(
            f"{entry['step_fs']:g} fs {stable}/{entry['n_trajectories']}")
    return ([f"results: {', '.join(files)}",
             "stable trajectories per arm and step size (all training seeds):"]
            + [f"  {arm}: {', '.join(cells)}" for arm, cells in per_arm.items()])
