from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from harness.sweeps.versions import code_version, data_version, trial_data_version


def write_lock(path: Path, out: str, md5: str) -> Path:
    lock = path / "dvc.lock"
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": {"make": {
        "cmd": "x", "outs": [{"path": out, "hash": "md5", "md5": md5}]}}}))
    return lock


def test_dvc_lock_gives_the_data_version(tmp_path: Path) -> None:
    (tmp_path / "data" / "set").mkdir(parents=True)
    lock = write_lock(tmp_path, "data/set", "abc.dir")
    assert data_version(str(tmp_path / "data" / "set"), lock) == "dvc:abc.dir"


def test_untracked_folder_hashes_its_description(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "dataset.json").write_text('{"levels": {}}')
    expected = hashlib.sha256(b'{"levels": {}}').hexdigest()[:16]
    assert data_version(str(folder), tmp_path / "no.lock") == f"sha256:{expected}"
    assert data_version(str(tmp_path / "nothing"), tmp_path / "no.lock") == "unknown"


def test_trial_data_version_joins_distinct_sources(tmp_path: Path) -> None:
    for name in ("a.npz", "b.npz"):
        (tmp_path / name).write_bytes(name.encode())
    config = {"data": {"accurate": {"path": str(tmp_path / "a.npz")},
                       "inaccurate": {"path": str(tmp_path / "b.npz")}}}
    assert trial_data_version(config).count("sha256:") == 2
    config["data"]["inaccurate"] = config["data"]["accurate"]
    assert trial_data_version(config).count("sha256:") == 1


def test_code_version_is_the_checked_out_commit() -> None:
    version = code_version()
    assert len(version["git_sha"]) == 40 and version["git_dirty"] in ("true", "false")
