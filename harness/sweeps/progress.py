"""What the person who started a sweep sees while it runs: one line per trial that settles.

The workers write their own logs (``logs/worker-*.log``); these lines are the console's view:
which trial finished, its test force MAE and time, and an estimate of the time left. They are
plain lines, so a terminal, a CI log and ``dvc repro`` show the same thing without a flood of
progress-bar updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from optuna.trial import FrozenTrial

from harness.mlflow_record import number_tag
from harness.sweeps.plan import Plan, Trial
from harness.sweeps.study import FAILURE_REASON, completed, settled


def describe_trial(trial: Trial) -> str:
    """Method, level, budget, gamma and seed as a reader names them."""
    parts = [trial.cell.method]
    if trial.cell.inaccurate_level:
        parts.append(trial.cell.inaccurate_level)
    parts.append(f"budget {number_tag(trial.cell.budget)}")
    if trial.gamma is not None:
        parts.append(f"gamma {number_tag(trial.gamma)}")
    parts.append(f"seed {trial.seed}")
    return ", ".join(parts)


def outcome_text(attempts: list[FrozenTrial]) -> str:
    """The test force MAE and seconds of a completed trial, or why it failed."""
    done = completed(attempts)
    if done is None:
        return f"FAILED: {attempts[-1].user_attrs.get(FAILURE_REASON, 'its worker died')}"
    force_mae = done.user_attrs.get("test", {}).get("force_mae")
    seconds = done.user_attrs.get("trial_seconds")
    shown = "test force MAE " + ("?" if force_mae is None else f"{force_mae:.3f} kcal/mol/Å")
    return shown + ("" if seconds is None else f", {seconds:.0f} s")


def duration_text(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


class SweepProgress:
    """Lines for the trials that settled since the last call, with the time left estimated
    from this run's own pace (trials settled before it started do not count)."""

    def __init__(self, plan: Plan, states: dict[str, list[FrozenTrial]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.trials = {trial.key: trial for trial in plan.trials}
        self.reported = {key for key, attempts in states.items() if settled(attempts)}
        self.resumed = len(self.reported)
        self.clock, self.started = clock, clock()

    def opening_line(self) -> str:
        waiting = len(self.trials) - self.resumed
        already = f" ({self.resumed} settled in an earlier run)" if self.resumed else ""
        return f"{waiting} of {len(self.trials)} trials to run{already}"

    def new_lines(self, states: dict[str, list[FrozenTrial]]) -> list[str]:
        newly = [key for key in self.trials
                 if key not in self.reported and settled(states.get(key, []))]
        lines = []
        for key in newly:
            self.reported.add(key)
            lines.append(f"[{len(self.reported)}/{len(self.trials)}] "
                         f"{describe_trial(self.trials[key])}: {outcome_text(states[key])}"
                         f"{self._time_left()}")
        return lines

    def _time_left(self) -> str:
        done_here = len(self.reported) - self.resumed
        remaining = len(self.trials) - len(self.reported)
        if remaining == 0 or done_here == 0:
            return ""
        pace = (self.clock() - self.started) / done_here
        return f"; about {duration_text(pace * remaining)} left"
