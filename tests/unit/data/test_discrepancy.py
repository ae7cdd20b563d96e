"""A cheap level's labels against the accurate ones, on frames paired by geometry."""

from __future__ import annotations

import dataclasses

import numpy as np

from harness.data.discrepancy import (
    default_reference_level,
    discrepancy_report,
    level_discrepancy,
)


def test_a_constant_force_offset_is_its_own_mae_and_spread_is_zero(make_frames):
    accurate = make_frames(n_frames=10, level="ccsd")
    order = np.arange(10)[::-1]
    cheap = dataclasses.replace(accurate.subset(order), level="xtb",
                                forces=accurate.forces[order] + 0.5,
                                energies=accurate.energies[order] + 100.0)
    found = level_discrepancy(accurate, cheap)
    assert found["n_paired"] == 10
    assert np.isclose(found["force_mae"], 0.5) and np.isclose(found["force_rmse"], 0.5)
    assert np.isclose(found["true_bias_p10"], found["true_bias_p90"])
    assert np.isclose(found["energy_mae_offset_removed"], 0.0)  # the energy zero is not an error


def test_unpaired_geometries_and_unlabelled_levels_are_not_compared(make_frames):
    accurate = make_frames(n_frames=5, level="ccsd")
    elsewhere = make_frames(n_frames=5, level="xtb", seed=3)
    elsewhere = dataclasses.replace(elsewhere, positions=elsewhere.positions + 5.0)
    unlabeled = make_frames(n_frames=5, level="unlabeled", labelled=False)
    report = discrepancy_report({"ccsd": accurate, "xtb": elsewhere, "unlabeled": unlabeled},
                                "ccsd")
    assert report == {"xtb": {"n_paired": 0}}


def test_the_default_reference_is_the_costliest_labelled_level(make_frames):
    levels = {"ccsd": make_frames(level="ccsd", seconds_per_label=25.0),
              "xtb": make_frames(level="xtb", seconds_per_label=0.003),
              "unlabeled": make_frames(level="unlabeled", labelled=False,
                                       seconds_per_label=99.0)}
    assert default_reference_level(levels) == "ccsd"
    assert default_reference_level({"only": levels["xtb"]}) == "only"


def test_the_default_reference_of_a_labelled_folder_is_the_level_it_was_labelled_from(
        make_frames):
    """CCSD(T) labels read from MD17 carry no cost; the cheap levels labelled on their
    geometries do, and are cheaper: the reference is still CCSD(T)."""
    levels = {"ccsd(t)": make_frames(level="ccsd(t)"),
              "xtb": make_frames(level="xtb", seconds_per_label=0.003),
              "gaff2": make_frames(level="gaff2", seconds_per_label=0.0001)}
    assert default_reference_level(levels) == "ccsd(t)"
