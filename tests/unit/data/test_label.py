"""``harness data label``: cheap labels for existing geometries, written as a dataset folder
that loads, keeps the source's labels and atom order, resumes, and refuses bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.cli import build_parser, main
from harness.data.label.pipeline import LabelPlan, TestFrames, label_dataset
from harness.data.label.source import read_geometries
from harness.data.pairing import matches_any
from harness.data.readers import load_any
from harness.data.splits import split_multi_fidelity
from harness.data.store import load_dataset
from harness.data.writers import write_extxyz
from harness.errors import DataError
from harness.train.config import DataSettings

ROOT = Path(__file__).resolve().parents[3]
ETHANOL = ROOT / "data" / "ethanol"
SHARED_DATA = ROOT.parent / "shared" / "data"
CCSD_FILE = SHARED_DATA / "md17-ccsd" / "malonaldehyde_ccsd_t-train.npz"
RMD17_FILE = SHARED_DATA / "rmd17" / "rmd17_malonaldehyde_train_01.npz"


@pytest.fixture(scope="module")
def ethanol():
    return load_dataset(ETHANOL)


@pytest.fixture
def xtb_extxyz(ethanol, tmp_path) -> Path:
    """Six embedded ethanol frames with their xTB labels, as an extxyz file."""
    return write_extxyz(ethanol["xtb"].subset(np.arange(6)), tmp_path / "ethanol-xtb.extxyz")


class CountingLabeler:
    """Stands in for a level's labeler; fails at call ``fail_at`` (as if killed)."""

    description = "counting, for tests"

    def __init__(self, level: str, fail_at: int | None = None) -> None:
        self.level, self.fail_at, self.calls = level, fail_at, 0

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("killed")
        return float(positions.sum()), -np.ones_like(positions)


def test_labelled_folder_loads_with_source_level_and_measured_cost(ethanol, xtb_extxyz,
                                                                     tmp_path):
    out = label_dataset(xtb_extxyz, tmp_path / "out", LabelPlan(levels=("mmff94",)),
                        progress=False)
    dataset = load_any(out)
    assert set(dataset.levels) == {"unlabeled", "xtb", "mmff94"}
    expected = ethanol["mmff94"].subset(np.arange(6))
    np.testing.assert_array_equal(dataset["unlabeled"].atomic_numbers, expected.atomic_numbers)
    np.testing.assert_allclose(dataset["mmff94"].positions, expected.positions, atol=1e-7)
    np.testing.assert_allclose(dataset["mmff94"].energies, expected.energies, atol=1e-5)
    np.testing.assert_allclose(dataset["xtb"].energies, ethanol["xtb"].energies[:6], atol=1e-5)
    assert dataset["mmff94"].seconds_per_label > 0
    assert dataset["xtb"].seconds_per_label is None  # the source did not measure it
    assert "| mmff94 | MMFF94 (RDKit) | 6 |" in (out / "CARD.md").read_text()
    assert not out.with_name("out.partial").exists()


def test_a_folder_source_keeps_its_levels_on_the_chosen_frames(ethanol):
    geometries = read_geometries(ETHANOL, 25)
    ccsd = geometries.own_levels["ccsd"]
    assert ccsd.frame_ids.tolist() == [0, 10, 20]
    np.testing.assert_array_equal(ccsd.positions, geometries.positions[ccsd.frame_ids])
    np.testing.assert_array_equal(ccsd.energies, ethanol["ccsd"].energies[:3])
    assert geometries.temperature_K == 500.0


def test_an_interrupted_labelling_resumes_from_its_finished_chunks(xtb_extxyz, tmp_path,
                                                                   monkeypatch):
    out = tmp_path / "out"
    plan = LabelPlan(levels=("mmff94",), chunk_size=2)
    killed = CountingLabeler("mmff94", fail_at=4)  # chunk 0 done, chunk 1 half done
    monkeypatch.setattr("harness.data.label.pipeline.make_labeler", lambda *_: killed)
    with pytest.raises(RuntimeError, match="killed"):
        label_dataset(xtb_extxyz, out, plan, progress=False)
    assert not out.exists() and (tmp_path / "out.partial" / "labels" / "mmff94").exists()
    resumed = CountingLabeler("mmff94")
    monkeypatch.setattr("harness.data.label.pipeline.make_labeler", lambda *_: resumed)
    label_dataset(xtb_extxyz, out, plan, progress=False)
    assert resumed.calls == 4
    assert len(load_any(out)["mmff94"]) == 6
    again = CountingLabeler("mmff94")
    monkeypatch.setattr("harness.data.label.pipeline.make_labeler", lambda *_: again)
    assert label_dataset(xtb_extxyz, out, plan, progress=False) == out and again.calls == 0


def test_a_finished_folder_of_another_labelling_is_refused(xtb_extxyz, tmp_path):
    out = label_dataset(xtb_extxyz, tmp_path / "out", LabelPlan(levels=("mmff94",), n_frames=3),
                        progress=False)
    with pytest.raises(DataError, match="another labelling"):
        label_dataset(xtb_extxyz, out, LabelPlan(levels=("mmff94",)), progress=False)


def _run_cli(argv: list[str], capsys) -> tuple[int, str]:
    status = main(["data", "label", *argv, "--quiet"])
    return status, capsys.readouterr().err.strip()


@pytest.mark.parametrize(("case", "field"), [
    ("missing", "'path'"), ("level", "'--levels'"), ("bonds", "'positions'"),
    ("frames", "'frames'"), ("clash", "'levels'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, field, xtb_extxyz, tmp_path,
                                                         capsys):
    methyl = tmp_path / "methyl.xyz"
    methyl.write_text("4\n\nC 0 0 0\nH 1.09 0 0\nH -0.5 0.94 0\nH -0.5 -0.94 0\n")
    source, levels, frames = {
        "missing": (tmp_path / "absent.npz", ["mmff94"], "2"),
        "level": (xtb_extxyz, ["mmff94", "dftb"], "2"),
        "bonds": (methyl, ["mmff94"], "1"),
        "frames": (xtb_extxyz, ["mmff94"], "7"),
        "clash": (xtb_extxyz, ["xtb"], "2"),
    }[case]
    out = tmp_path / "out"
    status, message = _run_cli([str(source), str(out), "--levels", *levels, "--frames", frames],
                               capsys)
    assert status == 2 and len(message.splitlines()) == 1 and field in message
    assert case == "level" or str(source) in message
    assert not out.exists() and not (tmp_path / "out.partial").exists()


@pytest.mark.skipif(not CCSD_FILE.exists(), reason=f"the MD17@CCSD(T) file is not in "
                    f"{SHARED_DATA}")
def test_real_ccsd_t_geometries_get_cheap_levels_beside_their_own(tmp_path):
    out = label_dataset(CCSD_FILE, tmp_path / "malonaldehyde",
                        LabelPlan(levels=("mmff94", "xtb"), n_frames=5), progress=False)
    dataset = load_any(out)
    (source_level,) = load_any(CCSD_FILE).levels.values()
    assert set(dataset.levels) == {"unlabeled", source_level.level, "mmff94", "xtb"}
    np.testing.assert_allclose(dataset[source_level.level].energies,
                               source_level.energies[:5])
    assert dataset["xtb"].seconds_per_label > dataset["mmff94"].seconds_per_label > 0


@pytest.mark.skipif(not RMD17_FILE.exists(), reason=f"the rMD17 file is not in {SHARED_DATA}")
def test_pbe_level_reproduces_rmd17_labels_on_its_own_geometry(tmp_path):
    dataset = load_any(label_dataset(RMD17_FILE, tmp_path / "rmd17", LabelPlan(
        levels=("pbe",), n_frames=1), progress=False))
    difference = np.abs(dataset["pbe"].forces - dataset["rmd17-pbe-def2svp"].forces)
    assert difference.mean() < 0.05 and difference.max() < 0.2  # kcal/mol/A; forces ~ 10-50


def test_progress_off_a_terminal_is_one_plain_line_per_chunk(xtb_extxyz, tmp_path, capsys):
    label_dataset(xtb_extxyz, tmp_path / "out", LabelPlan(levels=("mmff94",), chunk_size=2))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        f"labels mmff94: chunk {number}/3 written" for number in (1, 2, 3)]


def test_skip_test_frames_labels_exactly_the_frames_a_split_does_not_test_on(
        ethanol, tmp_path, monkeypatch):
    """With --skip-test-frames the cheap level covers the training and validation frames of a
    split and nothing else: the split draws its whole cheap pool from it, the validation frames
    keep their cheap labels (the correction model validates on them), and a test frame's
    duplicate elsewhere in the file is skipped too."""
    test_rows = np.random.default_rng(0).permutation(31)[:10]  # the split's, as in splits.py
    held_rows = np.random.default_rng(0).permutation(31)[:13]  # 10 test, 3 validation
    assert 30 not in held_rows  # so the copy below of a test frame is a training candidate
    with_duplicate = ethanol["ccsd"].subset(np.r_[np.arange(30), test_rows[0]])
    source = write_extxyz(with_duplicate, tmp_path / "ethanol-ccsd.extxyz")
    monkeypatch.setattr("harness.data.label.pipeline.make_labeler",
                        lambda *_: CountingLabeler("mmff94"))
    out = label_dataset(source, tmp_path / "out",
                        LabelPlan(levels=("mmff94",), skip_test=TestFrames(n_test=10)),
                        progress=False)
    dataset = load_any(out)
    accurate, cheap = dataset["ccsd"], dataset["mmff94"]
    assert len(accurate) == 31 and len(cheap) == 31 - 10 - 1
    split = split_multi_fidelity(accurate, cheap, n_accurate_train=3, n_inaccurate_train=17,
                                 n_validation=3, n_test=10, split_seed=0)
    assert sorted(split.inaccurate_train.frame_ids.tolist()) == sorted(
        set(cheap.frame_ids.tolist()) - set(split.validation.frame_ids.tolist()))
    assert matches_any(split.validation, cheap).all()
    assert not matches_any(cheap, split.test).any()
    card = (out / "CARD.md").read_text()
    assert "skip the 10 test frames of level `ccsd`" in card


def test_skip_test_frames_defaults_are_the_training_defaults():
    data_fields = DataSettings.model_fields
    assert (TestFrames().n_test, TestFrames().split_seed) == (
        data_fields["n_test"].default, data_fields["split_seed"].default)
    args = build_parser().parse_args(["data", "label", "a.npz", "out", "--all",
                                      "--skip-test-frames"])
    assert (args.n_test, args.split_seed) == (TestFrames().n_test, TestFrames().split_seed)


def test_skip_test_frames_without_enough_accurate_frames_is_refused(xtb_extxyz, tmp_path):
    with pytest.raises(DataError, match="no more than the 500 test frames"):
        label_dataset(xtb_extxyz, tmp_path / "out",
                      LabelPlan(levels=("mmff94",), skip_test=TestFrames()), progress=False)
    assert not (tmp_path / "out.partial").exists()
