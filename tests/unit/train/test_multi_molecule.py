"""ASTEROID pre-trained on the cheap frames of several molecules (the paper's Table 5)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from train_toy import context, tiny_config, toy_frames, toy_splits

from harness.data.frames import FrameSet
from harness.errors import ConfigError
from harness.train import methods
from harness.train.config import LevelSource, TrainConfig, parse_config
from harness.train.experiment import prepare_splits, pretraining_labels_paid, run_method
from harness.train.methods import MoleculeFrames

WATER_NUMBERS = np.array([8, 1, 1])
WATER_GEOMETRY = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
OTHER = {"accurate": {"path": "water", "level": "accurate"},
         "inaccurate": {"path": "water", "level": "inaccurate"}}


def water_frames(n_frames: int, seed: int, level: str, stiffness: float = 60.0) -> FrameSet:
    """A second molecule with other atoms and exact harmonic labels."""
    rng = np.random.default_rng(seed)
    positions = WATER_GEOMETRY + 0.05 * rng.standard_normal((n_frames, 3, 3))
    x = torch.as_tensor(positions).requires_grad_(True)
    rest = torch.cdist(torch.as_tensor(WATER_GEOMETRY), torch.as_tensor(WATER_GEOMETRY))
    energies = 0.25 * stiffness * ((torch.cdist(x, x) - rest) ** 2).sum(dim=(1, 2)) - 40.0
    (gradient,) = torch.autograd.grad(energies.sum(), x)
    return FrameSet(molecule="water", level=level, atomic_numbers=WATER_NUMBERS,
                    positions=positions, energies=energies.detach().numpy(),
                    forces=-gradient.numpy(), source=f"water-{level}",
                    frame_ids=np.arange(n_frames) + 1000 * seed)


def multi_config(**changes: Any) -> dict[str, Any]:
    config = tiny_config("asteroid_multi", **changes)
    config["data"] = {**config["data"], "pretraining_molecules": [OTHER], "cost_ratio": 20}
    return config


def multi_splits() -> methods.Splits:
    other = MoleculeFrames(accurate_train=water_frames(12, 0, "accurate"),
                           validation=water_frames(6, 1, "accurate"),
                           inaccurate_train=water_frames(20, 5, "inaccurate", stiffness=45.0))
    return replace(toy_splits(), other_molecules=(other,))


def test_stages_one_and_two_see_every_molecule_and_fine_tuning_only_the_tested_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, tuple[list[str], list[str], int | None]] = {}
    original = methods.run_stage

    def recorded(context, name, model, schedule, objective, train_frames, validation_frames,
                 weights=None, **options):
        seen[name] = ([frames.molecule for frames in methods.as_pool(train_frames)],
                      [frames.molecule for frames in methods.as_pool(validation_frames)],
                      None if weights is None else len(weights))
        return original(context, name, model, schedule, objective, train_frames,
                        validation_frames, weights, **options)

    monkeypatch.setattr(methods, "run_stage", recorded)
    config = parse_config(multi_config(), "toy.yaml")
    outcome = run_method(methods.MethodContext(config, torch.device("cpu"), torch.float64,
                                               tmp_path), multi_splits())
    assert seen["stage1"] == (["toy", "water"], ["toy", "water"], None)
    assert seen["stage2_gamma0.5"] == (["toy", "water"], ["toy", "water"], 32 + 20)
    assert seen["stage3_gamma0.5"] == (["toy"], ["toy"], None)
    table = outcome.bias_table
    assert len(table["bias"]) == 52 and np.all(table["bias"] > 0)
    assert table["molecule_index"].tolist() == [0] * 32 + [1] * 20
    assert outcome.details["pretraining_molecules"] == ["toy", "water"]
    assert outcome.details["n_inaccurate_train_pretraining"] == 52
    assert len(outcome.test_graphs) == 8 and all(len(graph.z) == 4
                                                 for graph in outcome.test_graphs)


def test_one_model_fits_per_element_energy_shifts_over_several_molecules(
        tmp_path: Path) -> None:
    """Both molecules' cheap energies, thousands of kcal/mol apart in general, share one fit."""
    model = methods.fresh_model(context(tmp_path, "asteroid"), "stage2",
                                multi_splits().inaccurate_pool)
    graphs = methods.graphs(context(tmp_path, "asteroid"), multi_splits().inaccurate_pool)
    assert {len(graph.z) for graph in graphs} == {4, 3}
    assert model.atomic_energy_shift[[1, 6, 8]].abs().sum() > 0


@pytest.mark.parametrize("asteroid", [{"bias_estimator": "correction_model"},
                                      {"bias_estimator": "ensemble"},
                                      {"weight_resolution": "atom"}])
def test_the_bias_is_estimated_by_stage_one_and_weights_frames(asteroid: dict) -> None:
    with pytest.raises(ConfigError, match="stage_one and weights frames"):
        parse_config(multi_config(asteroid=asteroid), "toy.yaml")


def test_other_molecules_are_read_by_asteroid_multi_alone() -> None:
    with pytest.raises(ConfigError, match="needs data.pretraining_molecules"):
        parse_config(tiny_config("asteroid_multi"), "toy.yaml")
    standard = tiny_config("standard")
    standard["data"] = {**standard["data"], "pretraining_molecules": [OTHER]}
    with pytest.raises(ConfigError, match="read only by method 'asteroid_multi'"):
        parse_config(standard, "toy.yaml")


def toy_loader(levels: dict[tuple[str, str], FrameSet]):
    def load(source: LevelSource, config_source: str, key: str) -> FrameSet:
        return levels[(source.path, source.level)]
    return load


def toy_levels(water_level: str = "inaccurate") -> dict[tuple[str, str], FrameSet]:
    return {("toy", "accurate"): toy_frames(60, seed=0, level="accurate"),
            ("toy", "inaccurate"): toy_frames(80, seed=5, level="inaccurate"),
            ("water", "accurate"): water_frames(60, 0, "accurate"),
            ("water", "inaccurate"): water_frames(80, 5, water_level)}


def test_each_other_molecule_is_split_with_this_runs_sizes_and_seeds() -> None:
    config: TrainConfig = parse_config(multi_config(), "toy.yaml")
    splits, sizes = prepare_splits(config, "toy.yaml", toy_loader(toy_levels()))
    (other,) = splits.other_molecules
    assert (len(other.accurate_train), len(other.validation), len(other.inaccurate_train)) == (
        16, 8, 32)
    assert sizes["n_accurate_train_other_molecules"] == 16
    assert sizes["n_inaccurate_train_other_molecules"] == 32
    assert other.true_bias is not None and other.true_bias.shape == (32,)


def test_another_level_or_the_same_molecule_in_the_pool_is_refused() -> None:
    config = parse_config(multi_config(), "toy.yaml")
    with pytest.raises(ConfigError, match="pretraining_molecules.0.inaccurate.level"):
        prepare_splits(config, "toy.yaml", toy_loader(toy_levels(water_level="gaff2")))
    itself = multi_config()
    itself["data"]["pretraining_molecules"] = [{
        "accurate": {"path": "toy", "level": "accurate"},
        "inaccurate": {"path": "toy", "level": "inaccurate"}}]
    with pytest.raises(ConfigError, match="the molecule trained and tested here"):
        prepare_splits(parse_config(itself, "toy.yaml"), "toy.yaml", toy_loader(toy_levels()))


def test_a_multi_molecule_run_counts_every_molecules_labels_apart() -> None:
    sizes = {"n_accurate_train": 28, "n_inaccurate_train": 440, "cost_ratio": 20.0,
             "n_accurate_train_other_molecules": 28, "n_inaccurate_train_other_molecules": 440}
    assert pretraining_labels_paid(sizes) == pytest.approx(100.0)
    assert pretraining_labels_paid({"n_accurate_train": 28}) is None


def test_the_pre_training_is_the_same_whichever_molecule_is_tested() -> None:
    toy_first = multi_splits()
    (water,) = toy_first.other_molecules
    toy = MoleculeFrames(toy_first.accurate_train, toy_first.validation,
                         toy_first.inaccurate_train, toy_first.true_bias)
    water_first = methods.Splits(accurate_train=water.accurate_train,
                                 validation=water.validation, test=water.validation,
                                 inaccurate_train=water.inaccurate_train, other_molecules=(toy,))
    for pool in ("accurate_pool", "validation_pool", "inaccurate_pool"):
        assert getattr(toy_first, pool) == getattr(water_first, pool)
