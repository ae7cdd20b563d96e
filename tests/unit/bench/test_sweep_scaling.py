"""The sweep benchmark's table: speed-up against the one-worker run, overhead per trial."""

from __future__ import annotations

from harness.bench.sweep_scaling import ScalingRow, format_rows


def test_speed_up_is_relative_to_the_one_worker_run() -> None:
    rows = [ScalingRow(1, 4, 4, 100.0, 25.0, 5.0, 4.0), ScalingRow(2, 4, 4, 60.0, 28.0, 6.0, 5.5)]
    table = format_rows(rows).splitlines()
    assert table[2] == "| 1 | 4/4 | 100 | 1.00x | 25.0 | 5.00 | 4.0 |"
    assert table[3] == "| 2 | 4/4 | 60 | 1.67x | 28.0 | 6.00 | 5.5 |"


def test_without_a_one_worker_run_there_is_no_speed_up() -> None:
    assert "| - |" in format_rows([ScalingRow(2, 1, 1, 10.0, 9.0, 1.0, 1.0)])
