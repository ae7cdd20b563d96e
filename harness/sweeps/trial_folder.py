"""A trial's folder (``<state>/trials/<trial_key>/``) and the versions its content was made with.

The folder holds the trial's checkpoints and ``results.json``, which let a retry resume or
record a finished training instead of starting over. That is only right for the same code,
data and generation: ``versions.json`` records them when a worker starts the trial, and a
folder made with others (or before this record existed) is emptied first, so a rerun trains
from scratch instead of resuming, or re-reporting, a result of other code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness.data.store import write_json_atomically
from harness.versions import Versions

STAMP = "versions.json"


def trial_folder(state_dir: Path, trial_key: str) -> Path:
    return state_dir / "trials" / trial_key


def _stamp(versions: Versions, generation: int) -> dict:
    return {**versions.as_tags(), "generation": generation}


def prepare(folder: Path, versions: Versions, generation: int) -> bool:
    """Make ``folder`` hold only work of these versions and generation; True when older
    content was discarded."""
    wanted = _stamp(versions, generation)
    stamp = folder / STAMP
    discarded = False
    if folder.exists():
        try:
            recorded = json.loads(stamp.read_text())
        except (OSError, json.JSONDecodeError):
            recorded = None
        if recorded == wanted:
            return False
        shutil.rmtree(folder)
        discarded = True
    write_json_atomically(stamp, wanted)
    return discarded
