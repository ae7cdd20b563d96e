"""The headline names the most accurate method at each budget, then says whether ASTEROID beats
standard training and the best baseline, in plain names and with the evidence over seeds."""

from __future__ import annotations

import pandas as pd
import pytest
from report_toy import frame_of, standard, toy_trials, trial

from harness.report.arms import comparisons
from harness.report.bias import bias_statistics
from harness.report.headline import headline, headline_metrics

NO_BIAS = bias_statistics(frame_of([]), {})


def _headline(runs: list[dict]) -> list[str]:
    frame = frame_of(runs)
    return headline(comparisons(frame, NO_BIAS), frame)


def _pair(standard_values: tuple[float, ...], asteroid_values: tuple[float, ...]
          ) -> list[dict]:
    return ([standard(25, seed, value) for seed, value in enumerate(standard_values)]
            + [trial("asteroid", 25, seed, value, gamma=0.5)
               for seed, value in enumerate(asteroid_values)])


def _sgdml(budget: float, seed: int, value: float) -> dict:
    return trial("sgdml", budget, seed, value, level="", ratio="", model="sgdml")


def test_each_budget_gets_a_paragraph_after_an_overall_line(toy_frame: pd.DataFrame) -> None:
    overall, at_25, at_100 = headline(comparisons(toy_frame, NO_BIAS), toy_frame)
    assert overall.startswith("ASTEROID beats standard training (the 95% CI of the reduction "
                              "excludes zero) in 2 of 2 comparisons")
    assert at_25.startswith("At 25 CCSD-label equivalents on ethanol (toy sweep, EGNN)")
    assert at_100.startswith("At 100 CCSD-label equivalents on ethanol")


def test_the_most_accurate_method_comes_first_with_what_it_needs_at_inference(
        toy_frame: pd.DataFrame) -> None:
    at_25 = headline(comparisons(toy_frame, NO_BIAS), toy_frame)[1]
    assert ("the most accurate method is Delta-ML (GFN2-xTB): test force MAE 0.320 ± 0.028 "
            "kcal/mol/Å over 2 seeds, but it needs a GFN2-xTB calculation of every "
            "configuration at inference.") in at_25


def test_a_gain_carries_seeds_interval_and_test(toy_frame: pd.DataFrame) -> None:
    at_25 = headline(comparisons(toy_frame, NO_BIAS), toy_frame)[1]
    assert ("ASTEROID (GFN2-xTB) beats standard training: 0.650 ± 0.071 against 1.050 ± 0.071 "
            "kcal/mol/Å (2 and 2 seeds), 38.1% lower (reduction 0.400 kcal/mol/Å, 95% CI 0.096 "
            "to 0.704, Welch t-test p = 0.03).") in at_25
    assert "The mean reduction meets the paper's claim of at least 30% lower" in at_25
    assert "The evidence is thin: as few as 2 seeds per method" in at_25


def test_asteroid_is_set_against_the_best_baseline_and_the_best_standalone_one() -> None:
    runs = toy_trials() + [_sgdml(25, 0, 0.90), _sgdml(25, 1, 0.95)]
    at_25 = _headline(runs)[1]
    assert ("ASTEROID (GFN2-xTB) does not beat the best baseline, Delta-ML (GFN2-xTB), which "
            "needs a GFN2-xTB calculation of every configuration at inference: 0.650 ± 0.071 "
            "against 0.320 ± 0.028") in at_25
    assert "103.1% higher on average, but the 95% CI of the reduction includes zero" in at_25
    assert ("ASTEROID (GFN2-xTB) is not clearly better than sGDML, the best baseline that needs "
            "no cheap labels at inference: 0.650 ± 0.071 against 0.925 ± 0.035") in at_25


def test_a_small_gain_is_not_established_and_falls_short_of_the_claim() -> None:
    [sentence] = _headline(_pair((1.0, 1.2), (0.95, 1.05)))
    assert ("ASTEROID (GFN2-xTB) is not clearly better than standard training: 1.000 ± 0.071 "
            "against 1.100 ± 0.141 kcal/mol/Å (2 and 2 seeds), 9.1% lower on average, but the "
            "95% CI of the reduction includes zero") in sentence
    assert "The mean reduction falls short of the paper's claim" in sentence


def test_one_seed_allows_no_test_and_says_so() -> None:
    [sentence] = _headline(_pair((1.0,), (0.5,)))
    assert "50.0% lower; with one seed per method no test is possible." in sentence
    assert " beats " not in sentence


def test_enough_seeds_are_not_called_thin() -> None:
    [sentence] = _headline(_pair((1.0, 1.1, 1.2, 1.05, 1.15), (0.5, 0.6, 0.55, 0.52, 0.58)))
    assert "beats standard training" in sentence and "thin" not in sentence


def test_no_gain_is_stated_plainly_with_what_the_record_shows() -> None:
    runs = _pair((0.80, 0.82), (0.90, 0.94)) + [
        trial("asteroid", 25, 2, float("nan"), gamma=0.5, status="FAILED", reason="NaN")]
    [sentence] = _headline(runs)
    assert sentence.startswith("At 25 CCSD-label equivalents on ethanol (toy sweep, EGNN), the "
                               "most accurate method is standard training")
    assert "ASTEROID (GFN2-xTB) does not beat standard training" in sentence
    assert "13.6% higher on average" in sentence
    assert "1 ASTEROID trial(s) at this budget failed" in sentence


def test_weights_near_zero_are_named_as_a_reason() -> None:
    frame = frame_of(_pair((0.80, 0.82), (0.90, 0.94)))
    statistics = pd.DataFrame({"run_id": frame[frame["method"] == "asteroid"]["run_id"],
                               "weight_mean": 0.02})
    [sentence] = headline(comparisons(frame, statistics), frame)
    assert "mean weight of 0.02: stage 2 learned from few inaccurate frames" in sentence


def test_several_levels_get_an_overall_line() -> None:
    runs = [run for run in toy_trials() if run["tags"]["budget"] == "25"] + [
        trial("asteroid", 25, seed, 1.5, level="gaff2", gamma=0.5) for seed in (0, 1)]
    lines = _headline(runs)
    assert lines[0].startswith("ASTEROID beats standard training (the 95% CI of the reduction "
                               "excludes zero) in 1 of 2 comparisons; its mean force MAE is "
                               "lower in 1 (largest mean reduction 38.1%: ASTEROID (EGNN, "
                               "GFN2-xTB) at 25 CCSD-label equivalents on ethanol)")
    assert len(lines) == 2 and "ASTEROID (GAFF2) does not beat standard training" in lines[1]


def test_several_models_are_named_in_each_setting() -> None:
    gemnet = [standard(25, seed, value, model="gemnet_t")
              for seed, value in ((0, 0.5), (1, 0.55))]
    for run in gemnet:
        run["tags"]["trial_key"] += "/gemnet_t"
    [sentence] = _headline(_pair((1.0, 1.1), (0.6, 0.7)) + gemnet)
    assert "the most accurate method is standard training (GemNet-T)" in sentence
    assert "ASTEROID (EGNN, GFN2-xTB) beats standard training" in sentence


def test_without_both_methods_there_is_no_headline_and_it_says_so() -> None:
    [sentence] = _headline([standard(25, 0, 1.0)])
    assert sentence.startswith("No headline") and "1 finished" in sentence


def test_headline_metrics_carry_the_numbers_and_the_test(toy_frame: pd.DataFrame) -> None:
    metrics = headline_metrics(comparisons(toy_frame, NO_BIAS))
    entry = metrics["toy/ethanol/egnn/xtb/rmeasured/b25"]
    assert entry["relative_reduction"] == pytest.approx(1 - 0.65 / 1.05)
    assert entry["reduction_ci_low"] == pytest.approx(0.096, abs=1e-3)
    assert entry["welch_p_value"] == pytest.approx(0.03, abs=5e-3)
    one_seed = headline_metrics(comparisons(frame_of(_pair((1.0,), (0.5,))), NO_BIAS))
    assert next(iter(one_seed.values()))["welch_p_value"] is None


def test_trials_still_improving_at_their_step_cap_get_a_caveat() -> None:
    runs = _pair((1.0, 1.2), (0.5, 0.6))
    runs[0] = standard(25, 0, 1.0, still_improving=1)
    lines = _headline(runs)
    assert lines[-1].startswith("Caveat: in 1 of 4 selected trials of trained networks")
    assert "under-trained" in lines[-1] and "not converged" in lines[-1]
    assert not any(line.startswith("Caveat") for line in _headline(_pair((1.0, 1.2),
                                                                         (0.5, 0.6))))


def test_fine_tuning_worse_than_stage_one_gets_a_caveat() -> None:
    runs = _pair((1.0, 1.2), (0.5, 0.6))
    for run in runs:
        if run["tags"]["method"] == "asteroid":
            run["metrics"]["fine_tuning_worse"] = 0.0
    runs[-1]["metrics"]["fine_tuning_worse"] = 1.0
    lines = _headline(runs)
    assert lines[-1].startswith("Caveat: in 1 of 2 selected ASTEROID trials fine-tuning ended")
    assert lines[-1].endswith("Their fine-tuned models are the ones reported.")
    runs[-1]["metrics"]["kept_stage1"] = 1.0
    assert "1 of them kept their stage-1 model" in _headline(runs)[-1]


def test_fine_tuned_ani_is_a_standalone_baseline_named_as_such() -> None:
    """The sweep's method key of fine-tuned ANI-1ccx is ``ani1ccx_finetuned`` (``ani1ccx`` is
    zero-shot): the headline must weigh it, by its name, as a model that needs no cheap labels."""
    ani = [trial("ani1ccx_finetuned", 25, seed, value, level="", ratio="",
                 model="ani1ccx_finetuned") for seed, value in ((0, 0.50), (1, 0.52))]
    at_25 = _headline(toy_trials() + [_sgdml(25, 0, 0.90), _sgdml(25, 1, 0.95), *ani])[1]
    assert ("ANI-1ccx (fine-tuned), the best baseline that needs no cheap labels at inference"
            in at_25)
