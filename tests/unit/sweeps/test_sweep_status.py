"""``harness sweep status``: each trial's state from the study, nothing changed or created."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from spec_toy import tiny_spec, write_spec

from harness.errors import ConfigError
from harness.sweeps.plan import make_plan
from harness.sweeps.spec import parse_spec
from harness.sweeps.status import silent_attempts, status_lines, sweep_status
from harness.sweeps.study import (
    claim_next,
    default_storage,
    enqueue_missing,
    open_storage,
    open_study,
    set_attributes,
    tell,
)
from harness.versions import trial_versions


def test_each_trial_shows_its_state_result_and_whether_it_reruns(tmp_path: Path) -> None:
    plan = make_plan(parse_spec(tiny_spec(), "tiny.yaml"), "tiny.yaml")
    storage = open_storage(default_storage(tmp_path), plan.spec.scheduling)
    study = open_study(storage, "tiny:default")
    enqueue_missing(study, plan, "tiny.yaml")
    done = claim_next(study, storage)
    set_attributes(storage, done, {"test": {"force_mae": 1.234}, "trial_seconds": 61.0,
                                   **trial_versions(done.user_attrs["config"]).as_tags()})
    tell(study, storage, done, 2.0)
    failed = claim_next(study, storage)
    tell(study, storage, failed, None, "RuntimeError: boom")
    running = claim_next(study, storage)
    set_attributes(storage, running, {"worker": "node:42"})
    later = running.datetime_start + dt.timedelta(minutes=30)

    lines = status_lines(plan, study, now=later)
    assert lines[0] == ("sweep tiny (profile default): 4 trials: 1 complete, 1 failed, "
                        "1 running, 1 waiting")
    assert lines[1] == "standard, budget 6, seed 0: test force MAE 1.234 kcal/mol/Å, 61 s"
    assert lines[2].endswith("FAILED: RuntimeError: boom; reruns: it failed before it ran "
                             "(no code or data versions recorded)")
    assert lines[3].endswith(": running for 30 min (node:42)")
    assert lines[4].endswith(": waiting")
    changed = make_plan(parse_spec(tiny_spec(train={"loss": {"rho": 0.5}}), "tiny.yaml"),
                        "tiny.yaml")
    assert status_lines(changed, study, now=later)[1].endswith(
        "; reruns: its training config changed")


def test_a_sweep_never_set_up_is_a_one_line_error_and_nothing_is_created(tmp_path: Path
                                                                         ) -> None:
    spec = write_spec(tmp_path, tiny_spec())
    with pytest.raises(ConfigError, match="no study 'tiny:default' .* `harness sweep run`"):
        sweep_status(str(spec), "default", None, tmp_path / "state")
    assert not (tmp_path / "state").exists()


def test_status_leaves_out_the_ani_cells_a_run_would_skip_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_ANI1CCX_WEIGHTS", raising=False)
    spec = tiny_spec(methods=["standard", "ani1ccx"],
                     train={"baselines": {"ani": {"weights_path": str(tmp_path / "nowhere")}}})
    path = write_spec(tmp_path, spec)
    plan = make_plan(parse_spec(spec, str(path)), str(path))
    storage_url = default_storage(tmp_path / "state" / "tiny" / "default")
    open_study(open_storage(storage_url, plan.spec.scheduling), "tiny:default")

    lines = sweep_status(str(path), "default", storage_url, tmp_path / "state")
    assert lines[0].startswith("sweep tiny (profile default): 1 trials: 1 not queued")
    assert lines[1].startswith("skipping the 1 ANI-1ccx cell(s), 1 trial(s), of ")
    assert len(lines) == 3 and lines[2].startswith("standard, budget 6, seed 0: not queued")


def test_a_trial_that_ran_with_other_code_reruns_for_that_reason(tmp_path: Path) -> None:
    plan = make_plan(parse_spec(tiny_spec(), "tiny.yaml"), "tiny.yaml")
    storage = open_storage(default_storage(tmp_path), plan.spec.scheduling)
    study = open_study(storage, "tiny:default")
    enqueue_missing(study, plan, "tiny.yaml")
    done = claim_next(study, storage)
    versions = trial_versions(done.user_attrs["config"]).as_tags()
    set_attributes(storage, done, {"test": {"force_mae": 1.0}, "trial_seconds": 1.0,
                                   **versions, "code_version": "src:older"})
    tell(study, storage, done, 2.0)
    assert status_lines(plan, study)[1].endswith(
        "; reruns: its code or data changed (unless --keep-stale-results)")


def test_a_running_trial_whose_worker_went_silent_says_it_will_be_retried(tmp_path: Path
                                                                          ) -> None:
    plan = make_plan(parse_spec(tiny_spec(scheduling={"heartbeat_seconds": 1,
                                                      "grace_seconds": 2}), "tiny.yaml"),
                     "tiny.yaml")
    storage = open_storage(default_storage(tmp_path), plan.spec.scheduling)
    study = open_study(storage, "tiny:default")
    enqueue_missing(study, plan, "tiny.yaml")
    running = claim_next(study, storage)  # its first heartbeat, and no worker beating after
    assert silent_attempts(study) == frozenset()
    time.sleep(3)
    assert silent_attempts(study) == {running._trial_id}
    line = status_lines(plan, study, silent=silent_attempts(study))[1]
    assert line.endswith("; its worker stopped reporting (no heartbeat within the grace "
                         "period): the next `harness sweep run` fails and retries it")
