from __future__ import annotations

import json
from pathlib import Path

from harness.bench.trainer import SMOKE_CASES, run_benchmark, write_json


def test_trainer_benchmark_times_both_loops_and_explains_the_difference(tmp_path: Path) -> None:
    lines: list[str] = []
    rows = run_benchmark(SMOKE_CASES, repeats=1, progress=lines.append)
    (row,) = rows
    assert row.bare_steps_per_s > 0 and row.trainer_steps_per_s > 0
    assert row.ratio == row.trainer_steps_per_s / row.bare_steps_per_s
    assert {"validation", "moving average", "gradient clipping", "unexplained"} <= set(
        row.extra_seconds)
    assert "ratio" in lines[0]
    write_json(rows, tmp_path / "bench.json", threads=1)
    assert json.loads((tmp_path / "bench.json").read_text())["rows"][0]["case"] == row.case
