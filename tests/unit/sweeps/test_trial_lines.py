"""The sweep's console lines: one per settled trial, in plain words, with the time left."""

from __future__ import annotations

from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from spec_toy import tiny_spec

from harness.sweeps.plan import make_plan
from harness.sweeps.progress import SweepProgress, describe_trial
from harness.sweeps.spec import parse_spec


def _plan():
    spec = tiny_spec(methods=["standard", "asteroid"], seeds=[0])
    return make_plan(parse_spec(spec, "tiny.yaml", "default"), "tiny.yaml")


def _done(force_mae: float, seconds: float):
    return create_trial(state=TrialState.COMPLETE, value=0.1, params={}, distributions={},
                        user_attrs={"test": {"force_mae": force_mae},
                                    "trial_seconds": seconds})


def _failed(reason: str):
    return create_trial(state=TrialState.FAIL, params={}, distributions={},
                        user_attrs={"failure_reason": reason})


def _waiting():
    return create_trial(state=TrialState.WAITING, params={"x": 0.0},
                        distributions={"x": FloatDistribution(0, 1)})


def test_a_line_per_newly_settled_trial_with_its_result_and_the_time_left() -> None:
    plan = _plan()
    keys = [trial.key for trial in plan.trials]
    clock = iter([0.0, 60.0, 180.0])
    states = {key: [_waiting()] for key in keys}
    states[keys[0]] = [_done(2.5, 10.0)]   # settled in an earlier run: not reported again
    watch = SweepProgress(plan, states, clock=lambda: next(clock))
    assert watch.opening_line() == (f"{len(keys) - 1} of {len(keys)} trials to run "
                                    "(1 settled in an earlier run)")
    assert watch.new_lines(states) == []

    states[keys[1]] = [_done(1.9251, 412.0)]
    (line,) = watch.new_lines(states)
    assert line.startswith(f"[2/{len(keys)}] {describe_trial(plan.trials[1])}: ")
    assert "test force MAE 1.925 kcal/mol/Å, 412 s" in line
    assert f"about {60 * (len(keys) - 2):.0f} s left" in line or "min left" in line

    states[keys[2]] = [_failed("ValueError: diverged")]
    (line,) = watch.new_lines(states)
    assert "FAILED: ValueError: diverged" in line
    assert watch.new_lines(states) == []


def test_trials_are_named_as_a_reader_names_them() -> None:
    plan = _plan()
    names = [describe_trial(trial) for trial in plan.trials]
    assert names[0].startswith("standard, budget ")
    assert any("asteroid, " in name and ", gamma " in name and name.endswith("seed 0")
               for name in names)
