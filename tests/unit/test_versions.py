from __future__ import annotations

from pathlib import Path

import yaml

from harness.versions import (
    code_version,
    data_hash,
    data_version,
    hash_sources,
    source_hash,
    trial_data_version,
)


def write_lock(path: Path, out: str, md5: str) -> Path:
    lock = path / "dvc.lock"
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": {"make": {
        "cmd": "x", "outs": [{"path": out, "hash": "md5", "md5": md5}]}}}))
    return lock


def test_dvc_lock_gives_the_data_version(tmp_path: Path) -> None:
    (tmp_path / "data" / "set").mkdir(parents=True)
    lock = write_lock(tmp_path, "data/set", "abc.dir")
    assert data_version(str(tmp_path / "data" / "set"), lock) == "dvc:abc.dir"


def dataset_folder(folder: Path) -> Path:
    (folder / "labels" / "ccsd").mkdir(parents=True)
    (folder / "dataset.json").write_text('{"levels": {}}')
    (folder / "trajectory.npz").write_bytes(b"positions")
    (folder / "labels" / "ccsd" / "chunk_0000.npz").write_bytes(b"labels")
    return folder


def test_untracked_folder_hashes_its_description_trajectory_and_labels(tmp_path: Path) -> None:
    folder = dataset_folder(tmp_path / "set")
    before = data_version(str(folder), tmp_path / "no.lock")
    assert before.startswith("sha256:") and before == data_hash(str(folder))
    assert data_version(str(tmp_path / "nothing"), tmp_path / "no.lock") == "unknown"
    for changed in ("dataset.json", "trajectory.npz", "labels/ccsd/chunk_0000.npz"):
        other = dataset_folder(tmp_path / changed.replace("/", "-"))
        (other / changed).write_bytes(b"changed")
        assert data_hash(str(other)) != before, changed


def test_files_that_are_not_part_of_the_dataset_leave_its_hash_alone(tmp_path: Path) -> None:
    folder = dataset_folder(tmp_path / "set")
    before = data_hash(str(folder))
    copy = dataset_folder(tmp_path / "copy")
    (copy / "CARD.md").write_text("notes")
    (copy / "labels" / "ccsd" / "chunk_0001.npz.partial.npz").write_bytes(b"half written")
    assert data_hash(str(copy)) == before


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


def test_code_version_is_a_hash_of_the_package_sources() -> None:
    version = code_version()
    assert version["code_version"] == source_hash()
    assert version["code_version"].startswith("src:") and len(version["code_version"]) == 20


def test_a_changed_source_file_changes_the_code_version(tmp_path: Path) -> None:
    package = tmp_path / "package"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "loss.py").write_text("WEIGHT = 1.0\n")
    (package / "notes.txt").write_text("not source")
    before = hash_sources([package])
    (package / "notes.txt").write_text("still not source")
    assert hash_sources([package]) == before
    (package / "sub" / "loss.py").write_text("WEIGHT = 2.0\n")
    assert hash_sources([package]) != before
