"""The Optuna study: the queue and the ledger of a sweep's trials (no second ledger beside it).

Every planned trial is enqueued once, keyed by its ``trial_key`` (a user attribute, with its
training config, tags and config digest), so identity never depends on a sampler: Optuna's
GridSampler run by several workers at once evaluates some points twice. A worker claims a
waiting trial by switching it to RUNNING, which Optuna refuses when another worker got there
first; PostgreSQL makes that check-and-set atomic with a row lock, and on SQLite, which ignores
row locks, claims are serialised with a file lock beside the database (one machine only).

Heartbeats: a claimed trial's worker records a heartbeat every ``heartbeat_seconds``; a RUNNING
trial silent for ``grace_seconds`` is failed by whichever worker looks next, and Optuna's retry
callback enqueues a copy (same user attributes, so the same key) up to ``max_retries`` times.
A trial that fails by itself (an exception, a non-finite loss) is told FAIL with a
``failure_reason`` and is not retried unless asked (``retry_failed``).

Generations: a worker records the code and data versions a trial ran with (``code_version``,
``data_hash``). A settled trial whose versions differ from the current ones is stale, and so is
one that ran with another training config (the spec, or a default it relies on, changed under
the same sweep name and profile); rerunning it enqueues a new attempt one ``generation``
higher, and only the attempts of a key's newest generation count (older ones are history:
Optuna cannot reopen a finished trial).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from harness.errors import ConfigError
from harness.locks import exclusive_file_lock
from harness.sweeps.databases import create_sqlite_atomically, sqlite_path
from harness.sweeps.plan import Plan, Trial
from harness.sweeps.spec import SchedulingSpec, SweepSpec
from harness.versions import Versions

LIVE_STATES = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
FAILURE_REASON = "failure_reason"
WITHDRAWN = "withdrawn: the spec changed before it ran"
GENERATION = "generation"


def study_name(spec: SweepSpec) -> str:
    return f"{spec.name}:{spec.profile}"


def default_storage(state_dir: Path) -> str:
    return f"sqlite:///{(state_dir / 'optuna.db').resolve()}"


def _make_tables(url: str) -> None:
    RDBStorage(url).engine.dispose()


def open_storage(url: str, scheduling: SchedulingSpec) -> RDBStorage:
    """An RDB storage with heartbeats and retries of trials whose worker died."""
    create_sqlite_atomically(url, _make_tables)
    if sqlite_path(url) is not None:
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 120}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=scheduling.heartbeat_seconds,
            grace_period=scheduling.grace_seconds,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                max_retry=scheduling.max_retries))


def open_study(storage: RDBStorage, name: str) -> optuna.Study:
    """Create the study or load it; validation loss is the value (lower is better)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, study_name=name, direction="minimize",
                               load_if_exists=True)


def trial_attributes(trial: Trial, generation: int = 0) -> dict[str, Any]:
    """What a worker needs to run a trial, stored with it in the study."""
    return {"trial_key": trial.key, "cell_key": trial.cell.key, "group_key": trial.group_key,
            "digest": trial.digest, "gamma": trial.gamma, "seed": trial.seed,
            "config": trial.config, "tags": trial.tags(), GENERATION: generation}


def generation_of(attempt: FrozenTrial) -> int:
    """The generation of an attempt (0 for attempts queued before generations existed)."""
    return int(attempt.user_attrs.get(GENERATION, 0))


def trials_by_key(study: optuna.Study) -> dict[str, list[FrozenTrial]]:
    """The Optuna trials (attempts and retries) of each trial key's newest generation."""
    grouped: dict[str, list[FrozenTrial]] = {}
    for frozen in study.get_trials(deepcopy=False):
        key = frozen.user_attrs.get("trial_key")
        if key is not None:
            grouped.setdefault(key, []).append(frozen)
    for key, attempts in grouped.items():
        newest = max(map(generation_of, attempts))
        grouped[key] = [attempt for attempt in attempts if generation_of(attempt) == newest]
    return grouped


def _needs_enqueue(attempts: list[FrozenTrial], retry_failed: bool) -> bool:
    if any(attempt.state in LIVE_STATES for attempt in attempts):
        return False
    if retry_failed:
        return True
    # Failed by itself: a recorded reason. Failed as stale without a queued retry (a kill
    # between the two, or retries spent): no reason, so another attempt is due.
    return not any(FAILURE_REASON in attempt.user_attrs for attempt in attempts)


def enqueue_missing(study: optuna.Study, plan: Plan, source: str,
                    retry_failed: bool = False, rerun: Collection[str] = ()) -> int:
    """Enqueue each planned trial that has no live attempt, and a new generation of each key
    in ``rerun`` (see ``stale_keys``); returns how many were enqueued.

    Idempotent: run it again and nothing more is queued. A key queued earlier with another
    training config is an error unless it is settled and in ``rerun`` (see
    ``withdraw_respecified`` and ``respecified_keys``): a running attempt trains the old one.
    """
    existing = trials_by_key(study)
    enqueued = 0
    for trial in plan.trials:
        attempts = existing.get(trial.key, [])
        rerunning = trial.key in rerun and settled(attempts)  # not while a rerun waits or runs
        if not rerunning and any(attempt.user_attrs.get("digest") != trial.digest
                                 for attempt in attempts):
            raise ConfigError(source, "<spec>",
                              f"trial {trial.key} is running in study '{study.study_name}' "
                              "with another training config (the spec changed since it was "
                              "queued); let it finish (a killed worker's trial is released "
                              "after the heartbeat grace period) and run again")
        generation = max(map(generation_of, attempts), default=0)
        if rerunning:
            generation += 1
        elif not _needs_enqueue(attempts, retry_failed):
            continue
        study.enqueue_trial(params={}, user_attrs=trial_attributes(trial, generation))
        enqueued += 1
    return enqueued


def _deciding_attempt(attempts: list[FrozenTrial]) -> FrozenTrial:
    """The attempt whose outcome stands: the complete one, else the last that ran."""
    ran = [attempt for attempt in attempts if Versions.recorded(attempt.user_attrs)]
    return completed(attempts) or (ran or attempts)[-1]


def withdraw_respecified(study: optuna.Study, storage: RDBStorage, plan: Plan) -> int:
    """Fail the waiting attempts queued with another training config than the plan's (the
    spec changed before they ran: a killed sweep, then an edit or an upgrade), so that
    ``respecified_keys`` reruns them with this one; returns how many."""
    states = key_states(study, plan)
    withdrawn = 0
    for trial in plan.trials:
        for attempt in states[trial.key]:
            if (attempt.state == TrialState.WAITING
                    and attempt.user_attrs.get("digest") != trial.digest):
                storage.set_trial_user_attr(attempt._trial_id, FAILURE_REASON, WITHDRAWN)
                storage.set_trial_state_values(attempt._trial_id, TrialState.FAIL)
                withdrawn += 1
    return withdrawn


def respecified_keys(states: dict[str, list[FrozenTrial]], plan: Plan) -> list[str]:
    """Settled trials whose training config differs from the plan's: they ran another
    experiment than the spec now asks for (its results are never kept, unlike stale ones).
    ``states`` is one ``key_states`` snapshot, shared with ``stale_keys`` so that both
    decisions see the same study."""
    return [trial.key for trial in plan.trials if settled(states[trial.key])
            and _deciding_attempt(states[trial.key]).user_attrs.get("digest") != trial.digest]


def stale_keys(states: dict[str, list[FrozenTrial]], plan: Plan,
               current: Callable[[Trial], Versions]) -> list[str]:
    """Settled trials that ran with other code or data than ``current`` gives (or whose
    versions were never recorded): their results are not those of the code as it is.
    ``states`` is a ``key_states`` snapshot."""
    stale = []
    for trial in plan.trials:
        attempts = states[trial.key]
        if not settled(attempts):
            continue
        if ran_with(attempts) != current(trial):
            stale.append(trial.key)
    return stale


def ran_with(attempts: list[FrozenTrial]) -> Versions | None:
    """The code and data versions the deciding attempt ran with; None if it never ran."""
    return Versions.recorded(_deciding_attempt(attempts).user_attrs)


def claim_next(study: optuna.Study, storage: RDBStorage) -> FrozenTrial | None:
    """Switch the first waiting trial to RUNNING for this worker, or None when none waits.

    Optuna's ``study.ask`` would create a fresh, keyless trial when the queue is empty, so the
    claim uses the storage's check-and-set directly (``_trial_id`` is Optuna's own handle).
    """
    database = sqlite_path(storage.url)
    lock = None if database is None else database.with_name(database.name + ".claim-lock")
    study_id = storage.get_study_id_from_name(study.study_name)
    with exclusive_file_lock(lock):
        for waiting in storage.get_all_trials(study_id, deepcopy=False,
                                              states=(TrialState.WAITING,)):
            # The heartbeat comes first: a RUNNING trial without one is never found stale.
            storage.record_heartbeat(waiting._trial_id)
            try:
                claimed = storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            if claimed:
                return storage.get_trial(waiting._trial_id)
    return None


def earlier_attempt(study: optuna.Study, claimed: FrozenTrial) -> FrozenTrial | None:
    """Another live attempt of the claimed trial's key that takes precedence over it.

    Two set-ups racing on a new study (machines started at the same moment) can queue a key
    twice; the duplicate with the higher number yields, so the point still runs once.
    """
    key, generation = claimed.user_attrs["trial_key"], generation_of(claimed)
    for other in study.get_trials(deepcopy=False, states=LIVE_STATES):
        if (other.number == claimed.number or other.user_attrs.get("trial_key") != key
                or generation_of(other) != generation):
            continue
        if other.state == TrialState.COMPLETE or other.number < claimed.number:
            return other
    return None


@contextmanager
def heartbeat(storage: RDBStorage, trial: FrozenTrial, interval_seconds: float
              ) -> Iterator[None]:
    """Record heartbeats of ``trial`` in a background thread while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval_seconds):
            try:
                storage.record_heartbeat(trial._trial_id)
            except Exception as error:  # a busy database: the next beat will try again
                optuna.logging.get_logger(__name__).warning(f"heartbeat failed: {error}")

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def set_attributes(storage: RDBStorage, trial: FrozenTrial, attributes: dict[str, Any]) -> bool:
    """Record user attributes; False when the trial was finished meanwhile (failed as stale)."""
    try:
        for key, value in attributes.items():
            storage.set_trial_user_attr(trial._trial_id, key, value)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def tell(study: optuna.Study, storage: RDBStorage, trial: FrozenTrial, value: float | None,
         reason: str | None = None) -> bool:
    """COMPLETE with ``value``, or FAIL with ``reason``; False when the trial was already
    finished meanwhile (failed as stale after a stall: its queued retry records the result)."""
    if storage.get_trial(trial._trial_id).state.is_finished():
        return False
    try:
        if reason is not None:
            storage.set_trial_user_attr(trial._trial_id, FAILURE_REASON, reason)
            study.tell(trial.number, state=TrialState.FAIL)
        else:
            study.tell(trial.number, value)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def release_stale(study: optuna.Study) -> None:
    """Fail RUNNING trials whose worker stopped beating; the retry callback requeues them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        fail_stale_trials(study)


def key_states(study: optuna.Study, plan: Plan) -> dict[str, list[FrozenTrial]]:
    """The attempts of every planned trial (keys queued by other specs are left out)."""
    grouped = trials_by_key(study)
    return {trial.key: grouped.get(trial.key, []) for trial in plan.trials}


def completed(attempts: list[FrozenTrial]) -> FrozenTrial | None:
    """The COMPLETE attempt of a trial, if any."""
    return next((attempt for attempt in attempts if attempt.state == TrialState.COMPLETE), None)


def settled(attempts: list[FrozenTrial]) -> bool:
    """No attempt of the trial is waiting or running: it completed or failed for good."""
    return bool(attempts) and not any(
        attempt.state in (TrialState.WAITING, TrialState.RUNNING) for attempt in attempts)
