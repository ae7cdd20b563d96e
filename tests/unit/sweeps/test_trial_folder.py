from __future__ import annotations

from pathlib import Path

from harness.sweeps import trial_folder
from harness.versions import Versions

OLD, NEW = Versions("src:old", "sha256:data"), Versions("src:new", "sha256:data")


def test_a_folder_of_other_code_is_emptied_and_one_of_the_same_code_kept(tmp_path: Path) -> None:
    folder = tmp_path / "trials" / "a" / "s0"
    assert not trial_folder.prepare(folder, OLD, 0)  # new folder: nothing to discard
    (folder / "results.json").write_text("{}")
    assert not trial_folder.prepare(folder, OLD, 0)  # a resumed trial keeps its work
    assert (folder / "results.json").exists()
    assert trial_folder.prepare(folder, NEW, 0)
    assert not (folder / "results.json").exists()
    (folder / "results.json").write_text("{}")
    assert trial_folder.prepare(folder, NEW, 1)  # a new generation starts afresh too
    assert not (folder / "results.json").exists()


def test_a_folder_without_a_record_of_its_versions_is_emptied(tmp_path: Path) -> None:
    folder = tmp_path / "trial"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "stage1.pt").write_bytes(b"old")
    assert trial_folder.prepare(folder, NEW, 0)
    assert sorted(path.name for path in folder.iterdir()) == [trial_folder.STAMP]
