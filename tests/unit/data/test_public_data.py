"""The readers on the real MD17@CCSD(T) and rMD17 malonaldehyde files in ../shared/data.

Skipped when that folder is absent (it is never copied into the project).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.frames import FrameSet
from harness.data.pairing import matches_any, pair_frames
from harness.data.readers import combine_levels, load_any, read_md17_npz, read_rmd17_npz
from harness.data.splits import split_multi_fidelity

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
CCSD_FILE = SHARED_DATA / "md17-ccsd" / "malonaldehyde_ccsd_t-train.npz"
RMD17_FILES = sorted((SHARED_DATA / "rmd17").glob("rmd17_malonaldehyde_*.npz"))

pytestmark = pytest.mark.skipif(
    not CCSD_FILE.exists() or not RMD17_FILES,
    reason=f"the real MD17@CCSD(T) and rMD17 files are not in {SHARED_DATA}",
)


@pytest.fixture(scope="module")
def ccsd():
    return read_md17_npz(CCSD_FILE)


@pytest.fixture(scope="module")
def rmd17():
    """All ten rMD17 files, duplicates included (they overlap), as one inaccurate level."""
    parts = [read_rmd17_npz(path) for path in RMD17_FILES]
    return FrameSet(
        molecule=parts[0].molecule, level=parts[0].level,
        atomic_numbers=parts[0].atomic_numbers,
        positions=np.concatenate([part.positions for part in parts]),
        energies=np.concatenate([part.energies for part in parts]),
        forces=np.concatenate([part.forces for part in parts]),
        frame_ids=np.concatenate([part.frame_ids for part in parts]),
        source=str(SHARED_DATA / "rmd17"),
    )


def test_ccsd_file_reads_with_its_molecule_and_level(ccsd):
    assert (ccsd.molecule, ccsd.level, len(ccsd)) == ("malonaldehyde", "ccsd(t)-cc-pvdz", 1000)
    assert ccsd.atomic_numbers.tolist() == [6, 6, 6, 8, 8, 1, 1, 1, 1]
    # Energies of a 9-atom molecule in kcal/mol, forces of MD at room temperature.
    assert -170_000 < ccsd.energies.mean() < -160_000
    assert 10 < np.abs(ccsd.forces).mean() < 50


def test_rmd17_files_read_with_both_label_sets():
    new = read_rmd17_npz(RMD17_FILES[0])
    old = read_rmd17_npz(RMD17_FILES[0], labels="old")
    assert (new.molecule, new.level, old.level) == (
        "malonaldehyde", "rmd17-pbe-def2svp", "md17-pbe-vdwts")
    np.testing.assert_array_equal(new.positions, old.positions)
    assert not np.allclose(new.forces, old.forces)
    assert len(load_any(RMD17_FILES[0])["rmd17-pbe-def2svp"]) == 1000


def test_some_ccsd_geometries_are_rmd17_frames(ccsd, rmd17):
    ia, ib = pair_frames(ccsd, rmd17)
    assert 5 <= len(ia) <= 50
    assert len(np.unique(ib)) == len(ib)
    difference = np.abs(ccsd.positions[ia] - rmd17.positions[ib]).max()
    assert difference < 1e-3
    # Paired geometries are one configuration: both levels' forces agree to within DFT error.
    force_gap = np.abs(ccsd.forces[ia] - rmd17.forces[ib]).mean()
    assert force_gap < 0.3 * np.abs(ccsd.forces[ia]).mean()


def test_split_keeps_ccsd_test_geometries_out_of_the_rmd17_pool(ccsd, rmd17):
    dataset = combine_levels([ccsd, rmd17], source="malonaldehyde")
    assert sorted(dataset.levels) == ["ccsd(t)-cc-pvdz", "rmd17-pbe-def2svp"]
    shared = matches_any(ccsd, rmd17)
    result = split_multi_fidelity(ccsd, rmd17, n_accurate_train=200, n_inaccurate_train=9000,
                                  n_validation=50, n_test=500)
    held_out_shared = int(matches_any(result.test, rmd17).sum()
                          + matches_any(result.validation, rmd17).sum())
    assert shared.sum() > 0 and held_out_shared > 0
    assert not matches_any(result.inaccurate_train, result.test).any()
    assert not matches_any(result.inaccurate_train, result.validation).any()
