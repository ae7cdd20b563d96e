"""Comparing results files across runs: timings are measurements, not results."""

from __future__ import annotations

from typing import Any

TIMINGS = ("wall_seconds", "training_seconds")


def without_timings(results: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in results.items() if key not in TIMINGS}
    kept["stages"] = [{key: value for key, value in stage.items() if key != "seconds"}
                      for stage in results.get("stages", [])]
    return kept
