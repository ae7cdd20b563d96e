"""What a run records as the budget it spent (``results.json``'s ``budget_spent``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_toy import tiny_config

from harness.errors import DataError
from harness.train.config import parse_config
from harness.train.experiment import labels_paid, prepare_splits

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SIZES = {"n_accurate_train": 24, "n_inaccurate_train": 100, "cost_ratio": 20.0}


def spent(method: str, details: dict | None = None) -> float:
    config = parse_config(tiny_config(method), "toy.yaml")
    return labels_paid(config, SIZES, details or {}).spent


def test_accurate_only_and_unlabeled_runs_spend_their_accurate_frames() -> None:
    assert spent("standard") == 24.0
    assert spent("score_matching") == 24.0  # unlabeled frames are free


def test_inaccurate_labels_cost_one_over_the_ratio() -> None:
    assert spent("asteroid") == pytest.approx(24 + 100 / 20)
    assert spent("inaccurate_only") == pytest.approx(24 + 100 / 20)


def test_delta_ml_pays_one_cheap_label_per_paired_accurate_frame() -> None:
    assert spent("delta_ml", {"n_paired_train": 24}) == pytest.approx(24 + 24 / 20)


def ethanol_config(method: str, **data: object) -> dict:
    config = tiny_config(method)
    config["data"].update(accurate={"path": str(PROJECT_ROOT / "data/ethanol"), "level": "ccsd"},
                          inaccurate={"path": str(PROJECT_ROOT / "data/ethanol"), "level": "xtb"},
                          **data)
    return config


def test_the_declared_or_measured_ratio_travels_with_the_sizes() -> None:
    declared = ethanol_config("delta_ml", cost_ratio=20)
    del declared["data"]["n_inaccurate_train"]
    _, sizes = prepare_splits(parse_config(declared, "toy.yaml"), "toy.yaml")
    assert sizes["cost_ratio"] == 20.0
    _, measured = prepare_splits(parse_config(ethanol_config("asteroid"), "toy.yaml"),
                                 "toy.yaml")
    assert measured["cost_ratio"] > 100  # CCSD labels cost far more CPU time than xTB ones
    _, standard = prepare_splits(parse_config(ethanol_config("standard"), "toy.yaml"),
                                 "toy.yaml")
    assert "cost_ratio" not in standard


def test_a_ratio_that_cannot_be_measured_fails_before_training(make_frames) -> None:
    costless = make_frames(seconds_per_label=None, source="costless.npz")

    def load(*_: object) -> object:
        return costless

    with pytest.raises(DataError, match="costless.npz: field 'seconds_per_label'"):
        prepare_splits(parse_config(tiny_config("delta_ml"), "toy.yaml"), "toy.yaml", load)
