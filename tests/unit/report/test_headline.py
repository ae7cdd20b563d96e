"""The headline says plainly whether ASTEROID beats standard training at the smallest budget."""

from __future__ import annotations

import pandas as pd
import pytest
from report_toy import frame_of, standard, toy_trials, trial

from harness.report.bias import bias_statistics
from harness.report.headline import comparisons, headline, headline_metrics

NO_BIAS = bias_statistics(frame_of([]), {})


def _headline(runs: list[dict]) -> list[str]:
    frame = frame_of(runs)
    return headline(comparisons(frame, NO_BIAS), frame)


def _pair(standard_values: tuple[float, float], asteroid_values: tuple[float, float]
          ) -> list[dict]:
    return ([standard(25, seed, value) for seed, value in enumerate(standard_values)]
            + [trial("asteroid", 25, seed, value, gamma=0.5)
               for seed, value in enumerate(asteroid_values)]
            + [standard(100, 0, 0.1), trial("asteroid", 100, 0, 0.1, gamma=0.5)])


def test_a_gain_is_stated_with_its_relative_reduction(toy_frame: pd.DataFrame) -> None:
    [sentence] = headline(comparisons(toy_frame, NO_BIAS), toy_frame)
    assert sentence.startswith("ASTEROID beats standard training at the smallest budget (25 ")
    assert "0.650 ± 0.071 against 1.050 ± 0.071" in sentence and "38.1% lower" in sentence
    assert "This meets the paper's claim of at least 30% lower" in sentence


def test_a_small_gain_falls_short_of_the_claim_and_says_why() -> None:
    [sentence] = _headline(_pair((1.0, 1.2), (0.95, 1.05)))
    assert "9.1% lower" in sentence and "falls short of the paper's claim" in sentence
    assert "within one standard deviation over seeds" in sentence


def test_no_gain_is_stated_plainly_with_what_the_record_shows() -> None:
    runs = _pair((0.80, 0.82), (0.90, 0.94)) + [
        trial("asteroid", 25, 2, float("nan"), gamma=0.5, status="FAILED", reason="NaN")]
    [sentence] = _headline(runs)
    assert sentence.startswith("ASTEROID does not beat standard training at the smallest")
    assert "13.6% higher" in sentence
    assert "1 ASTEROID trial(s) at this budget failed" in sentence


def test_weights_near_zero_are_named_as_a_reason() -> None:
    frame = frame_of(_pair((0.80, 0.82), (0.90, 0.94)))
    statistics = pd.DataFrame({"run_id": frame[frame["method"] == "asteroid"]["run_id"],
                               "weight_mean": 0.02})
    [sentence] = headline(comparisons(frame, statistics), frame)
    assert "mean weight of 0.02: stage 2 learned from few inaccurate frames" in sentence


def test_several_settings_get_an_overall_line() -> None:
    runs = toy_trials() + [trial("asteroid", 25, seed, 1.5, level="gaff2", gamma=0.5)
                           for seed in (0, 1)]
    lines = _headline(runs)
    assert lines[0].startswith("ASTEROID beats standard training at the smallest budget in 1 "
                               "of 2 settings (largest reduction 38.1%")
    assert len(lines) == 3 and "does not beat" in lines[1]


def test_without_both_methods_there_is_no_headline_and_it_says_so() -> None:
    [sentence] = _headline([standard(25, 0, 1.0)])
    assert sentence.startswith("No headline") and "1 finished" in sentence


def test_headline_metrics_carry_the_numbers(toy_frame: pd.DataFrame) -> None:
    metrics = headline_metrics(comparisons(toy_frame, NO_BIAS))
    entry = metrics["toy/ethanol/egnn/xtb/rmeasured/b25"]
    assert entry["relative_reduction"] == pytest.approx(1 - 0.65 / 1.05)


def test_trials_still_improving_at_their_step_cap_get_a_caveat() -> None:
    runs = _pair((1.0, 1.2), (0.5, 0.6))
    runs[0] = standard(25, 0, 1.0, still_improving=1)
    lines = _headline(runs)
    assert lines[-1].startswith("Caveat: in 1 of 6 selected trials of trained networks")
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
    assert lines[-1].startswith("Caveat: in 1 of 3 selected ASTEROID trials fine-tuning ended")
