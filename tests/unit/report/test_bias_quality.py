"""The bias diagnostic joins frames by id and ranks B against the true cheap-level error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.report.bias_quality import bias_quality, true_bias


def test_true_bias_is_the_mean_force_difference_on_shared_frames(make_frames) -> None:
    cheap = make_frames(n_frames=6, level="xtb", source="xtb", seed=1)
    accurate = make_frames(level="ccsd", source="ccsd", positions=cheap.positions[[1, 4]],
                           frame_ids=np.array([1, 4]), seed=2)
    truth = true_bias(accurate, cheap)
    assert sorted(truth) == [1, 4]
    assert truth[4] == pytest.approx(np.abs(accurate.forces[1] - cheap.forces[4]).mean())


def test_a_bias_that_ranks_like_the_truth_has_correlation_one(make_frames,
                                                               tmp_path: Path) -> None:
    cheap = make_frames(n_frames=8, level="xtb", source="xtb", seed=1)
    accurate = make_frames(level="ccsd", source="ccsd", positions=cheap.positions,
                           frame_ids=cheap.frame_ids, seed=2)
    truth = true_bias(accurate, cheap)
    ids = np.array(sorted(truth))
    np.savez(tmp_path / "bias.npz", frame_id=ids, bias=np.array([2 * truth[i] for i in ids]))
    quality = bias_quality(tmp_path / "bias.npz", accurate, cheap)
    assert quality["spearman_bias_vs_true"] == pytest.approx(1.0)
    assert quality["n_frames_with_truth"] == 8
