"""The committed ``dvc.lock`` (and with it the committed report) belongs to the committed code.

``make repro`` regenerates the report and ``dvc.lock`` together; a change to the code, a spec or
``params.yaml`` that lands without them leaves a report that the landed code would not make.
DVC itself says so: every stage's command, parameters and dependencies must match the lock. The
cached outputs (the sweep summary and the MD results, not committed) are absent in a fresh
clone, so "not in cache" and their absence as a later stage's dependency are expected.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `make repro` and commit dvc.lock and reports/ with the change"


def _cached_outputs() -> set[str]:
    """Outputs DVC caches instead of committing (their paths as in dvc.lock)."""
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    committed = {Path(path) for path in _uncached_paths()}
    return {out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])
            if not any(Path(out["path"]).is_relative_to(folder) for folder in committed)}


def _uncached_paths() -> list[str]:
    pipeline = (ROOT / "dvc.yaml").read_text()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for group, values in params.items():  # resolve ${group.key} in the outs we look at
        for key, value in values.items() if isinstance(values, dict) else []:
            pipeline = pipeline.replace(f"${{{group}.{key}}}", str(value))
    stages = yaml.safe_load(pipeline)["stages"]
    return [path for stage in stages.values() for out in stage.get("outs", [])
            if isinstance(out, dict) for path, options in out.items()
            if options.get("cache") is False]


def _expected(kind: str, path: str, state: str, cached: set[str]) -> bool:
    if path not in cached:
        return False
    return (kind == "changed outs" and state == "not in cache") or (
        kind == "changed deps" and state == "deleted")


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_the_committed_lock_matches_the_code_specs_and_params() -> None:
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    if dvc is None:
        pytest.skip("dvc is not installed")
    status = subprocess.run([dvc, "status", "--json"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=True)
    cached = _cached_outputs()
    stale = []
    for stage, changes in json.loads(status.stdout or "{}").items():
        for change in changes:
            if isinstance(change, str):
                stale.append(f"{stage}: {change}")
                continue
            for kind, entries in change.items():
                stale += [f"{stage}: {kind} {path} ({state})" for path, state in entries.items()
                          if not _expected(kind, path, str(state), cached)]
    assert not stale, f"dvc.lock is stale ({REGENERATE}): " + "; ".join(stale)
