"""A killed ``harness report`` leaves nothing behind that a later report does not clear."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from harness.report import build

PROJECT_ROOT = Path(__file__).resolve().parents[3]
STALLED_REPORT = """
import sys, time
from pathlib import Path
from harness.report import build

def stall(*arguments, **options):  # the staging folder exists: the report is half-written
    Path(sys.argv[3]).touch()
    time.sleep(600)

build.markdown = stall
build.build_report(sys.argv[1], None, Path(sys.argv[2]))
"""


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftovers_of_dead_reports_go_and_those_of_running_ones_stay(tmp_path: Path) -> None:
    out, host = tmp_path / "reports", socket.gethostname()
    out.mkdir()
    dead, alive = dead_pid(), os.getpid()
    left = [tmp_path / f".reports-staging-{host}-{dead}-ab_12cd",
            tmp_path / ".reports-staging-x1y2",  # named before the owner was recorded
            tmp_path / f".reports-previous-{host}-{dead}"]
    kept = [tmp_path / f".reports-staging-{host}-{alive}-zz9", tmp_path / "other-staging-1",
            tmp_path / f".reports-staging-elsewhere-{dead}-q1"]
    for folder in left + kept:
        folder.mkdir()
    build.remove_leftovers(out)
    assert [folder.exists() for folder in left] == [False] * len(left)
    assert [folder.exists() for folder in kept] == [True] * len(kept)


def test_a_report_displaced_by_a_kill_mid_swap_is_put_back(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    displaced = tmp_path / f".reports-previous-{socket.gethostname()}-{dead_pid()}"
    displaced.mkdir()
    (displaced / "report.md").write_text("the previous report")
    build.remove_leftovers(out)
    assert (out / "report.md").read_text() == "the previous report"
    assert not displaced.exists()


def test_a_report_killed_while_writing_is_cleaned_up_by_the_next(writable_store: str,
                                                                 tmp_path: Path) -> None:
    out, started = tmp_path / "reports", tmp_path / "started"
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    stalled = subprocess.Popen([sys.executable, "-c", STALLED_REPORT, writable_store, str(out),
                                str(started)], cwd=tmp_path, env=environment)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert stalled.poll() is None and time.monotonic() < deadline, "the report never started"
        time.sleep(0.1)
    os.kill(stalled.pid, signal.SIGKILL)
    stalled.wait()
    assert list(tmp_path.glob(".reports-staging-*")), "the kill left no staging folder to clear"
    build.build_report(writable_store, None, out)
    assert (out / "report.md").exists()
    assert list(tmp_path.glob(".reports-*")) == []
