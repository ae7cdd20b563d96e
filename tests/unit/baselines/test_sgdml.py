"""sGDML as a method: the numpy shim, its own sigma selection, same test frames and metrics."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from baseline_toy import baseline_config

from harness.baselines.sgdml import sgdml_predict, sgdml_trainer
from harness.errors import ConfigError
from harness.model_file import SGDML_MODEL_FILE
from harness.sgdml_package import ensure_numpy_in1d, sgdml_api, sgdml_ase_calculator
from harness.train import experiment
from harness.train.config import parse_config
from harness.train.experiment import run_method

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def without_numpy_in1d(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove ``numpy.in1d`` for one test (as numpy >= 2.4 has it) and restore it after."""
    monkeypatch.setattr(np, "in1d", None, raising=False)
    monkeypatch.delattr(np, "in1d")


def test_shim_aliases_in1d_to_isin_when_numpy_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    without_numpy_in1d(monkeypatch)
    assert ensure_numpy_in1d()
    assert np.in1d is np.isin


def test_shim_leaves_an_existing_in1d_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def own_in1d(*args: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(np, "in1d", own_in1d, raising=False)
    assert not ensure_numpy_in1d()
    assert np.in1d is own_in1d


def test_sgdml_subsampling_runs_through_the_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """sGDML's stratified sampling is the code that calls in1d; it works on numpy 2.4."""
    calls: list[int] = []
    isin = np.isin

    def counting_isin(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return isin(*args, **kwargs)

    monkeypatch.setattr(np, "isin", counting_isin)
    without_numpy_in1d(monkeypatch)
    np.random.seed(0)
    with sgdml_trainer(max_processes=1) as trainer:
        chosen = trainer.draw_strat_sample(np.random.default_rng(0).normal(size=200), 30)
    assert calls
    assert len(np.unique(chosen)) == 30


@pytest.mark.parametrize("import_sgdml", [sgdml_api, sgdml_ase_calculator])
def test_importing_sgdml_keeps_the_process_logger_class(monkeypatch: pytest.MonkeyPatch,
                                                        import_sgdml: Callable[[], object]
                                                        ) -> None:
    for name in [name for name in sys.modules if name == "sgdml" or name.startswith("sgdml.")]:
        monkeypatch.delitem(sys.modules, name)
    before = logging.getLoggerClass()
    import_sgdml()
    assert logging.getLoggerClass() is before


def test_trainer_is_available_again_after_a_failed_training() -> None:
    """sGDML allows one trainer per process: a failure must not block the next trial."""
    with pytest.raises(KeyError), sgdml_trainer(max_processes=1) as trainer:
        trainer.train({})  # not a task: fails inside sGDML, whose frames hold the trainer
    with sgdml_trainer(max_processes=1) as trainer:
        assert trainer is not None


def test_sgdml_keeps_the_sigma_with_the_lowest_validation_force_rmse(method_context, toy_splits
                                                                    ) -> None:
    context = method_context("sgdml", baselines={"sgdml": {"sigmas": [5, 10, 20]}})
    outcome = run_method(context, toy_splits)
    (stage,) = outcome.stages
    rmse = [record["validation_force_rmse"] for record in stage.history]
    assert [record["sigma"] for record in stage.history] == [5.0, 10.0, 20.0]
    assert stage.best_record == int(np.argmin(rmse))
    assert outcome.details["sigma"] == [5, 10, 20][stage.best_record]
    assert stage.best_validation_loss == stage.history[stage.best_record]["validation_loss"]


def test_sgdml_learns_the_toy_forces_and_reports_test_predictions(method_context, toy_splits
                                                                  ) -> None:
    outcome = run_method(method_context("sgdml", baselines={"sgdml": {"sigmas": [5, 10]}}),
                         toy_splits)
    energies, forces = outcome.test_predictions
    assert outcome.model is None and outcome.model_name == "sgdml"
    assert energies.shape == (12,) and forces.shape == (12, 4, 3)
    metrics = experiment.test_metrics(outcome, batch_size=10, device=None)
    label_scale = float(np.mean(np.abs(toy_splits.test.forces)))
    assert metrics["force_mae"] < 0.2 * label_scale
    assert metrics["energy_mae"] < 0.2 * float(np.std(toy_splits.test.energies))


def test_saved_sgdml_model_reproduces_the_test_predictions(method_context, toy_splits) -> None:
    context = method_context("sgdml", baselines={"sgdml": {"sigmas": [10]}})
    outcome = run_method(context, toy_splits)
    (model_file,) = outcome.model_files
    assert model_file == context.checkpoint_dir / SGDML_MODEL_FILE
    with np.load(model_file, allow_pickle=True) as saved:
        energies, forces = sgdml_predict(dict(saved), toy_splits.test, max_processes=1)
    np.testing.assert_allclose(energies, outcome.test_predictions[0])
    np.testing.assert_allclose(forces, outcome.test_predictions[1])


def test_sgdml_needs_no_inaccurate_level_and_positive_sigmas() -> None:
    assert parse_config(baseline_config("sgdml"), "s.yaml").data.inaccurate is None
    with pytest.raises(ConfigError) as error:
        parse_config(baseline_config("sgdml", baselines={"sgdml": {"sigmas": [10, 0]}}),
                     "s.yaml")
    assert error.value.key_path == "baselines.sgdml.sigmas"


def test_sgdml_trial_runs_end_to_end_on_ethanol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                recording_tracker) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    config = parse_config(baseline_config(
        "sgdml", data={"accurate": {"path": "data/ethanol", "level": "ccsd"},
                       "n_accurate_train": 10, "n_validation": 5, "n_test": 20},
        baselines={"sgdml": {"sigmas": [10, 20]}}), "ethanol-sgdml.yaml")
    results = experiment.run(config, output_dir=tmp_path / "run", tracker=recording_tracker)
    assert results["model"] == "sgdml" and results["data"]["n_test"] == 20
    assert set(results["test"]) == {"force_mae", "force_rmse", "energy_mae"}
    assert recording_tracker.metrics["test.force_mae"] == results["test"]["force_mae"]
    assert tmp_path / "run" / "checkpoints" / SGDML_MODEL_FILE in recording_tracker.artifacts
    assert not (tmp_path / "run" / "model.pt").exists()
    assert np.isfinite(results["stages"][-1]["best_validation_loss"])
    assert recording_tracker.status == "FINISHED"
