"""Code and data versions recorded with every run, so a result can be traced to its inputs.

Code: ``git rev-parse HEAD`` of the project, and whether tracked files differ from it. Data: the
md5 that ``dvc.lock`` records for the dataset path (what DVC versions); a path DVC does not
track gets the sha256 of its ``dataset.json`` (a folder) or of the file itself.
"""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

import yaml

from harness.train.tracking import PROJECT_ROOT

UNKNOWN = "unknown"


def _git(*arguments: str) -> str | None:
    try:
        completed = subprocess.run(["git", *arguments], cwd=PROJECT_ROOT, capture_output=True,
                                   text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


@lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """``git_sha`` and ``git_dirty`` ("true" when tracked files have uncommitted changes)."""
    sha = _git("rev-parse", "HEAD")
    if sha is None:
        return {"git_sha": UNKNOWN, "git_dirty": UNKNOWN}
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_sha": sha, "git_dirty": "true" if changes else "false"}


def _dvc_md5(path: Path, lock: Path) -> str | None:
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if (lock.parent / out["path"]).resolve() == path and out.get("md5"):
                return out["md5"]
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


@lru_cache(maxsize=64)
def data_version(path: str, lock: Path = PROJECT_ROOT / "dvc.lock") -> str:
    """``dvc:<md5>`` from ``lock``, else ``sha256:<hash>``; ``unknown`` when nothing exists."""
    resolved = Path(path).resolve()  # relative to the working directory, as data loading
    md5 = _dvc_md5(resolved, lock)
    if md5 is not None:
        return f"dvc:{md5}"
    described = resolved / "dataset.json" if resolved.is_dir() else resolved
    return f"sha256:{_sha256(described)}" if described.is_file() else UNKNOWN


def trial_data_version(config: dict) -> str:
    """The versions of a training config's accurate and inaccurate datasets, joined by '+'."""
    paths = [config["data"][role]["path"] for role in ("accurate", "inaccurate")
             if config["data"].get(role)]
    return "+".join(dict.fromkeys(data_version(path) for path in paths))
