"""A stage's progress: plain periodic lines when the output is not a terminal."""

from __future__ import annotations

import io

from harness.train.progress import StepProgress


def test_off_a_terminal_progress_is_plain_lines_at_an_interval() -> None:
    stream = io.StringIO()
    progress = StepProgress("stage1", total=100, initial=0, enabled=True, stream=stream,
                            interval_s=0.0)
    progress.validated(3.25)
    progress.update()
    progress.update()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("stage1: step 1 (cap 100), validation loss 3.25, ")
    assert lines[-1].startswith("stage1: step 2 (cap 100)") and len(lines) == 3


def test_a_long_interval_prints_only_the_closing_line_and_disabled_prints_nothing() -> None:
    stream = io.StringIO()
    progress = StepProgress("stage2", total=10, initial=4, enabled=True, stream=stream)
    for _ in range(5):
        progress.update()
    progress.close()
    assert stream.getvalue().count("\n") == 1 and "step 9 (cap 10)" in stream.getvalue()
    quiet = io.StringIO()
    silent = StepProgress("stage2", total=10, initial=0, enabled=False, stream=quiet,
                          interval_s=0.0)
    silent.update()
    silent.close()
    assert quiet.getvalue() == ""
