from __future__ import annotations

import time
from pathlib import Path

import pytest
from optuna.trial import TrialState
from spec_toy import tiny_spec

from harness.errors import ConfigError
from harness.sweeps.plan import Plan, make_plan
from harness.sweeps.spec import parse_spec
from harness.sweeps.study import (
    claim_next,
    default_storage,
    earlier_attempt,
    enqueue_missing,
    key_states,
    open_storage,
    open_study,
    release_stale,
    respecified_keys,
    set_attributes,
    settled,
    stale_keys,
    tell,
    trial_attributes,
    trials_by_key,
    withdraw_respecified,
)
from harness.versions import Versions


def tiny_plan(**changes: object) -> Plan:
    spec = parse_spec(tiny_spec(**changes), "tiny.yaml")
    return make_plan(spec, "tiny.yaml")


@pytest.fixture
def queue(tmp_path: Path):
    plan = tiny_plan(scheduling={"heartbeat_seconds": 1, "grace_seconds": 2})
    storage = open_storage(default_storage(tmp_path), plan.spec.scheduling)
    study = open_study(storage, "tiny:default")
    return plan, storage, study


def test_enqueue_is_idempotent(queue) -> None:
    plan, _, study = queue
    assert enqueue_missing(study, plan, "tiny.yaml") == len(plan.trials) == 4
    assert enqueue_missing(study, plan, "tiny.yaml") == 0
    assert sorted(trials_by_key(study)) == sorted(trial.key for trial in plan.trials)


def test_claims_follow_the_plan_once_each_then_none(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    claimed = [claim_next(study, storage) for _ in plan.trials]
    assert [trial.user_attrs["trial_key"] for trial in claimed] == [t.key for t in plan.trials]
    assert all(trial.state == TrialState.RUNNING for trial in claimed)
    assert claim_next(study, storage) is None
    assert claimed[0].user_attrs["config"] == plan.trials[0].config


def test_a_silent_trial_is_failed_and_queued_again_under_its_key(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    silent = claim_next(study, storage)
    time.sleep(3.2)  # past the 2 s grace period without a heartbeat
    release_stale(study)
    attempts = trials_by_key(study)[silent.user_attrs["trial_key"]]
    assert [attempt.state for attempt in attempts] == [TrialState.FAIL, TrialState.WAITING]
    assert attempts[1].user_attrs["config"] == silent.user_attrs["config"]
    assert enqueue_missing(study, plan, "tiny.yaml") == 0


def test_failed_trials_stay_failed_unless_retry_is_asked(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    trial = claim_next(study, storage)
    assert tell(study, storage, trial, None, "RuntimeError: boom")
    attempts = trials_by_key(study)[trial.user_attrs["trial_key"]]
    assert attempts[0].user_attrs["failure_reason"] == "RuntimeError: boom"
    assert settled(attempts)
    assert enqueue_missing(study, plan, "tiny.yaml") == 0
    assert enqueue_missing(study, plan, "tiny.yaml", retry_failed=True) == 1


def test_telling_a_trial_finished_meanwhile_returns_false(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    trial = claim_next(study, storage)
    assert tell(study, storage, trial, 1.5)
    assert not tell(study, storage, trial, 2.5)
    assert study.trials[0].value == 1.5


def test_a_changed_spec_withdraws_waiting_trials_and_refuses_running_ones(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    running = claim_next(study, storage)
    changed = tiny_plan(train={"loss": {"rho": 0.5}})
    assert respecified_keys(key_states(study, changed), changed) == []  # nothing settled yet
    assert withdraw_respecified(study, storage, changed) == len(plan.trials) - 1
    respecified = respecified_keys(key_states(study, changed), changed)
    assert running.user_attrs["trial_key"] not in respecified
    assert len(respecified) == len(plan.trials) - 1
    with pytest.raises(ConfigError, match="is running .* another training config"):
        enqueue_missing(study, changed, "tiny.yaml", rerun=respecified)
    tell(study, storage, running, 1.0)  # the old config's run finishes: now it reruns too
    respecified = respecified_keys(key_states(study, changed), changed)
    assert enqueue_missing(study, changed, "tiny.yaml", rerun=respecified) == len(plan.trials)
    assert all(attempts[0].state == TrialState.WAITING
               and attempts[0].user_attrs["digest"] == trial.digest
               for trial in changed.trials for attempts in [trials_by_key(study)[trial.key]])


def test_results_of_a_changed_spec_are_rerun_as_a_new_generation_never_mixed(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    run_everything(study, storage, CURRENT)
    changed = tiny_plan(train={"loss": {"rho": 0.5}})
    respecified = respecified_keys(key_states(study, changed), changed)
    assert respecified == [trial.key for trial in changed.trials]
    with pytest.raises(ConfigError, match="another training config"):
        enqueue_missing(study, changed, "tiny.yaml")  # never queued beside the old results
    assert enqueue_missing(study, changed, "tiny.yaml", rerun=respecified) == len(plan.trials)
    assert respecified_keys(key_states(study, changed), changed) == []
    newest = trials_by_key(study)
    assert all(attempts[0].user_attrs["digest"] == trial.digest
               and attempts[0].user_attrs["generation"] == 1
               for trial in changed.trials for attempts in [newest[trial.key]])
    assert stale_keys(key_states(study, changed), changed, lambda trial: CURRENT) == []


def test_a_key_queued_twice_runs_once(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    duplicate = trial_attributes(plan.trials[0])
    study.enqueue_trial(params={}, user_attrs=duplicate)  # as a racing second set-up would
    claimed = [claim_next(study, storage) for _ in range(len(plan.trials) + 1)]
    first = claimed[0]
    second = next(trial for trial in claimed[1:]
                  if trial.user_attrs["trial_key"] == duplicate["trial_key"])
    assert earlier_attempt(study, first) is None
    assert earlier_attempt(study, second).number == first.number


CURRENT = Versions("src:new", "sha256:data")


def run_everything(study, storage, versions: Versions) -> None:
    """Claim and complete every waiting trial, recording ``versions`` as a worker does."""
    while (claimed := claim_next(study, storage)) is not None:
        set_attributes(storage, claimed, versions.as_tags())
        tell(study, storage, claimed, 1.0)


def test_results_of_other_code_are_stale_and_rerun_as_a_new_generation(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    run_everything(study, storage, Versions("src:old", "sha256:data"))
    stale = stale_keys(key_states(study, plan), plan, lambda trial: CURRENT)
    assert stale == [trial.key for trial in plan.trials]
    assert enqueue_missing(study, plan, "tiny.yaml", rerun=stale) == len(plan.trials)
    assert enqueue_missing(study, plan, "tiny.yaml", rerun=stale) == 0  # idempotent
    current = trials_by_key(study)
    assert all(len(attempts) == 1 and attempts[0].state == TrialState.WAITING
               for attempts in current.values())  # the old generation no longer counts
    # waiting: not stale
    assert stale_keys(key_states(study, plan), plan, lambda trial: CURRENT) == []
    run_everything(study, storage, CURRENT)
    assert stale_keys(key_states(study, plan), plan, lambda trial: CURRENT) == []
    assert all(attempts[0].user_attrs["generation"] == 1 for attempts in
               trials_by_key(study).values())


def test_changed_data_is_stale_and_unrecorded_versions_count_as_changed(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    first = claim_next(study, storage)
    set_attributes(storage, first, Versions("src:new", "sha256:old-labels").as_tags())
    tell(study, storage, first, 1.0)
    second = claim_next(study, storage)  # finished by code that recorded no versions
    tell(study, storage, second, 1.0)
    third = claim_next(study, storage)
    set_attributes(storage, third, CURRENT.as_tags())
    tell(study, storage, third, 1.0)
    assert stale_keys(key_states(study, plan), plan, lambda trial: CURRENT) == [
        first.user_attrs["trial_key"], second.user_attrs["trial_key"]]


def test_a_new_generation_does_not_yield_to_the_completed_old_one(queue) -> None:
    plan, storage, study = queue
    enqueue_missing(study, plan, "tiny.yaml")
    run_everything(study, storage, Versions("src:old", "sha256:data"))
    enqueue_missing(study, plan, "tiny.yaml", rerun=[plan.trials[0].key])
    rerun = claim_next(study, storage)
    assert rerun.user_attrs["trial_key"] == plan.trials[0].key
    assert earlier_attempt(study, rerun) is None
