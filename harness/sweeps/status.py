"""``harness sweep status``: where a sweep stands, read from its study without changing it.

One line per planned trial (done with its result, failed with its reason, running for how
long and where, waiting, or not queued yet) and which settled trials ``harness sweep run``
would run again because their code, data or training config changed. The plan is the one
``harness sweep run`` would run: without the ANI-1ccx cells it skips when their weights cannot
be found, with its line saying so. Nothing is queued, released or created: a sweep that was
never set up is an error, not an empty study.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from harness.errors import ConfigError
from harness.redaction import redact
from harness.sweeps.databases import sqlite_path
from harness.sweeps.plan import Plan, make_plan
from harness.sweeps.preflight import check_storage, without_unavailable_baselines
from harness.sweeps.progress import describe_trial, duration_text, outcome_text
from harness.sweeps.runner import state_dir_of
from harness.sweeps.spec import SweepSpec, load_spec
from harness.sweeps.study import (
    completed,
    default_storage,
    key_states,
    ran_with,
    respecified_keys,
    settled,
    stale_keys,
    study_name,
)
from harness.versions import trial_versions


def trial_state(attempts: list[FrozenTrial]) -> str:
    """complete, failed, running, waiting or not queued: the newest generation's state."""
    if not attempts:
        return "not queued"
    if settled(attempts):
        return "failed" if completed(attempts) is None else "complete"
    running = any(attempt.state == TrialState.RUNNING for attempt in attempts)
    return "running" if running else "waiting"


def attempt_text(attempts: list[FrozenTrial], state: str, now: dt.datetime,
                 silent: frozenset[int] = frozenset()) -> str:
    """What the trial in ``state`` is doing, or how it ended; ``silent``: Optuna's ids of the
    running attempts whose worker stopped beating for longer than the grace period."""
    if state == "not queued":
        return "not queued (harness sweep run queues it)"
    if state in ("complete", "failed"):
        return outcome_text(attempts)
    if state == "waiting":
        return "waiting"
    attempt = [attempt for attempt in attempts if attempt.state == TrialState.RUNNING][-1]
    since = attempt.datetime_start
    elapsed = "" if since is None else f" for {duration_text((now - since).total_seconds())}"
    worker = attempt.user_attrs.get("worker")
    text = f"running{elapsed}" + ("" if worker is None else f" ({worker})")
    if attempt._trial_id in silent:
        text += ("; its worker stopped reporting (no heartbeat within the grace period): "
                 "the next `harness sweep run` fails and retries it")
    return text


def status_lines(plan: Plan, study: optuna.Study, now: dt.datetime | None = None,
                 silent: frozenset[int] = frozenset()) -> list[str]:
    """The count line, then one line per trial in plan order (``silent``: as ``attempt_text``)."""
    states = key_states(study, plan)
    now = now or dt.datetime.now()
    respecified = set(respecified_keys(states, plan))
    stale = set(stale_keys(states, plan, lambda trial: trial_versions(trial.config)))
    counts = dict.fromkeys(("complete", "failed", "running", "waiting", "not queued"), 0)
    lines = []
    for trial in plan.trials:
        attempts = states[trial.key]
        state = trial_state(attempts)
        counts[state] += 1
        text = attempt_text(attempts, state, now, silent)
        if trial.key in respecified:
            text += "; reruns: its training config changed"
        elif trial.key in stale and ran_with(attempts) is None:
            text += "; reruns: it failed before it ran (no code or data versions recorded)"
        elif trial.key in stale:
            text += "; reruns: its code or data changed (unless --keep-stale-results)"
        lines.append(f"{describe_trial(trial)}: {text}")
    summary = ", ".join(f"{count} {state}" for state, count in counts.items() if count)
    return [f"sweep {plan.spec.name} (profile {plan.spec.profile}): {len(plan.trials)} trials: "
            f"{summary}", *lines]


def existing_study(spec: SweepSpec, spec_path: str, storage_url: str | None,
                   state_root: Path | None) -> optuna.Study:
    """The sweep's study, opened without creating anything: a sweep never set up is an
    error. Its storage knows the spec's heartbeat interval and grace period, so that
    ``silent_attempts`` can tell running attempts whose worker has gone."""
    url = storage_url or default_storage(state_dir_of(spec, state_root))
    database = sqlite_path(url)
    missing = ConfigError(spec_path, "name", f"no study '{study_name(spec)}' in {redact(url)}: "
                          "`harness sweep run` sets the sweep up")
    if database is not None and not database.is_file():
        raise missing
    check_storage(url)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():  # Optuna calls its heartbeat arguments experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = RDBStorage(url, skip_table_creation=True,
                                 heartbeat_interval=spec.scheduling.heartbeat_seconds,
                                 grace_period=spec.scheduling.grace_seconds)
        return optuna.load_study(study_name=study_name(spec), storage=storage)
    except KeyError:
        raise missing from None


def silent_attempts(study: optuna.Study) -> frozenset[int]:
    """Optuna's ids of the RUNNING attempts without a heartbeat within the grace period: their
    worker was killed or its machine went away (``harness sweep run`` fails and requeues them
    through Optuna's stale-trial check, which this reads without acting on)."""
    storage = study._storage
    rdb = getattr(storage, "_backend", storage)  # load_study wraps an RDBStorage in a cache
    study_id = rdb.get_study_id_from_name(study.study_name)
    return frozenset(rdb._get_stale_trial_ids(study_id))


def sweep_status(spec_path: str, profile: str, storage_url: str | None,
                 state_root: Path | None, overrides: list[str] | None = None) -> list[str]:
    """Status lines of the sweep ``spec_path`` under ``profile`` (its study must exist)."""
    spec = load_spec(spec_path, profile, overrides or [])
    plan, skipped = without_unavailable_baselines(make_plan(spec, spec_path), spec_path)
    study = existing_study(spec, spec_path, storage_url, state_root)
    lines = status_lines(plan, study, silent=silent_attempts(study))
    return [lines[0], *skipped, *lines[1:]]
