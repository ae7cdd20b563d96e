"""Code and data versions: what makes a trial's result current, and how to trace it.

Code: ``code_version`` is a hash of the source a trial runs, the content of every ``.py`` file
of the ``harness`` and ``models`` packages (sorted by path; no git needed, so an sdist or a
copied tree has one too), computed once per process. ``git_sha`` and ``git_dirty`` are kept
beside it for tracing a run back to a commit.

Machine: ``runtime`` names the torch release, the CPU kernels and the accelerator a training
ran on; they do not make a result stale, but its digits depend on them.

Data: ``data_hash`` is the hash of the content of every file a dataset consists of: the file
itself, or for a harness dataset folder its ``dataset.json``, ``trajectory.npz`` and every
label chunk. ``data_version`` is DVC's name for the same data (the md5 ``dvc.lock`` records)
where DVC tracks the path, else the content hash.

A trial whose recorded ``code_version`` or ``data_hash`` differs from the current one is stale:
a sweep reruns it unless told to keep old results (see ``harness.sweeps.study``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import yaml

from harness.data.store import chunk_paths
from harness.mlflow_record import Tags, flag_tag
from harness.train.tracking import PROJECT_ROOT

UNKNOWN = "unknown"
SOURCE_PACKAGES = ("harness", "models")
HASH_CHARACTERS = 16


@dataclass(frozen=True)
class Versions:
    """The code and data a trial runs (or ran) with; equal versions mean a current result."""

    code_version: str
    data_hash: str

    def as_tags(self) -> dict[str, str]:
        return {Tags.CODE_VERSION: self.code_version, Tags.DATA_HASH: self.data_hash}

    @classmethod
    def recorded(cls, attributes: dict) -> Versions | None:
        """The versions recorded in a trial's attributes or a run's tags; None if absent."""
        code, data = attributes.get(Tags.CODE_VERSION), attributes.get(Tags.DATA_HASH)
        return None if code is None or data is None else cls(code, data)


def _git(*arguments: str) -> str | None:
    try:
        completed = subprocess.run(["git", *arguments], cwd=PROJECT_ROOT, capture_output=True,
                                   text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


def _package_root(package: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or found.origin is None:
        raise RuntimeError(f"package '{package}' is not importable")
    return Path(found.origin).parent


def _update(digest: hashlib._Hash, name: str, path: Path) -> None:
    """Add a name and a file's content, each length-prefixed so that no two inputs collide."""
    encoded = name.encode()
    digest.update(len(encoded).to_bytes(8, "little") + encoded)
    digest.update(path.stat().st_size.to_bytes(8, "little"))
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def hash_sources(roots: list[Path]) -> str:
    """``src:<hash>`` of every ``.py`` file under the package folders ``roots``."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            _update(digest, path.relative_to(root.parent).as_posix(), path)
    return f"src:{digest.hexdigest()[:HASH_CHARACTERS]}"


@lru_cache(maxsize=1)
def source_hash() -> str:
    """The hash of the ``harness`` and ``models`` sources this process runs (once per process:
    a worker keeps running the code it imported)."""
    return hash_sources([_package_root(package) for package in SOURCE_PACKAGES])


@lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """Tags of the running code: ``code_version`` (the source hash), ``git_sha`` and
    ``git_dirty`` ("true" when tracked files have uncommitted changes)."""
    sha = _git("rev-parse", "HEAD")
    git = {Tags.GIT_SHA: UNKNOWN, Tags.GIT_DIRTY: UNKNOWN}
    if sha is not None:
        changes = _git("status", "--porcelain", "--untracked-files=no")
        git = {Tags.GIT_SHA: sha, Tags.GIT_DIRTY: flag_tag(bool(changes))}
    return {Tags.CODE_VERSION: source_hash(), **git}


def runtime(device: torch.device) -> dict[str, str]:
    """The machine a training ran on, as tags: the same code and data give the same digits only
    on the same torch release and kernels (``results/README.md``), so a result says which."""
    accelerator = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    return {Tags.TORCH_VERSION: torch.__version__,
            Tags.CPU_CAPABILITY: torch.backends.cpu.get_cpu_capability(),
            Tags.ACCELERATOR: accelerator}


def dataset_files(path: Path) -> list[Path]:
    """The files a dataset consists of: a file itself, or a harness folder's description,
    trajectory and label chunks (of every level), in a fixed order."""
    if not path.is_dir():
        return [path] if path.is_file() else []
    files = [path / name for name in ("dataset.json", "trajectory.npz") if (path / name).is_file()]
    labels = path / "labels"
    levels = sorted(folder.name for folder in labels.iterdir() if folder.is_dir()) \
        if labels.is_dir() else []
    return files + [chunk for level in levels for chunk in chunk_paths(path, level)]


@lru_cache(maxsize=64)
def data_hash(path: str) -> str:
    """``sha256:<hash>`` of the content of a dataset's files; ``unknown`` when none exists."""
    resolved = Path(path).resolve()  # relative to the working directory, as data loading
    files = dataset_files(resolved)
    if not files:
        return UNKNOWN
    digest = hashlib.sha256()
    for file in files:
        name = file.name if file == resolved else file.relative_to(resolved).as_posix()
        _update(digest, name, file)
    return f"sha256:{digest.hexdigest()[:HASH_CHARACTERS]}"


def _dvc_md5(path: Path, lock: Path) -> str | None:
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if (lock.parent / out["path"]).resolve() == path and out.get("md5"):
                return out["md5"]
    return None


@lru_cache(maxsize=64)
def data_version(path: str, lock: Path = PROJECT_ROOT / "dvc.lock") -> str:
    """``dvc:<md5>`` from ``lock``, else the content hash (``data_hash``)."""
    md5 = _dvc_md5(Path(path).resolve(), lock)
    return f"dvc:{md5}" if md5 is not None else data_hash(path)


def _trial_paths(config: dict) -> list[str]:
    """Every dataset a training config reads, a multi-molecule pre-training's included."""
    data = config["data"]
    sources = [data, *data.get("pretraining_molecules", [])]
    return [source[role]["path"] for source in sources for role in ("accurate", "inaccurate")
            if source.get(role)]


def trial_data_version(config: dict) -> str:
    """The versions of a training config's accurate and inaccurate datasets, joined by '+'."""
    return "+".join(dict.fromkeys(data_version(path) for path in _trial_paths(config)))


def trial_data_hash(config: dict) -> str:
    """The content hashes of a training config's datasets, joined by '+'."""
    return "+".join(dict.fromkeys(data_hash(path) for path in _trial_paths(config)))


def trial_versions(config: dict) -> Versions:
    """The versions a trial of ``config`` runs with in this process."""
    return Versions(source_hash(), trial_data_hash(config))
